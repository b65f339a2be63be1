// What a plugin process loads (issue 17: a plugin should cost near what a bare node costs). Each
// built-in runs as a real process on a private bus under a test root, with a loader hook that
// lists every module it loads; once attached, the list must not hold zod (~8 MB PSS a process:
// configs and state files are checked with protocol/sdk/checks.ts), the supervisor's YAML and
// execa, or pino's pretty printer. And the config check without zod still refuses a bad config
// with exit 2, naming each bad key.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPrivateBus, startTestRoot, type PrivateBus, type TestRoot } from '../helpers/bus.js';
import { spawnNode, stopAllNodes, TEST_INSTANCE } from '../helpers/node-process.js';
import { nodeBusName } from '../../protocol/names.js';
import { fixture, pluginRunner } from '../helpers/paths.js';

let bus: PrivateBus, root: TestRoot, dir: string;
beforeAll(async () => {
  bus = await startPrivateBus();
  root = await startTestRoot(bus.address);
  dir = await mkdtemp(join(tmpdir(), 'hive-plugin-modules-'));
});
afterEach(async () => { await stopAllNodes(); });
afterAll(async () => {
  await root?.stop();
  await bus?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Packages no plugin process should load at run time. */
const UNWANTED = ['zod', 'yaml', 'execa', 'pino-pretty', 'irc-framework', 'lodash', 'xml2js', 'xmlbuilder', 'sax'];
const loadedPackages = (trace: string) => new Set([...trace.matchAll(/\/node_modules\/((?:@[^/]+\/)?[^/]+)\//g)].map((m) => m[1]!));

function run(name: string, config: Record<string, unknown> = {}) {
  const trace = join(dir, `${name}-${Math.random().toString(36).slice(2)}.trace`);
  const node = spawnNode({
    name, command: [process.execPath, '--import', fixture('module-trace'), pluginRunner, name], bus: bus.address, parent: nodeBusName(TEST_INSTANCE, 'mouth'), config,
    env: { HIVE_STATE_DIR: join(dir, name), HIVE_TEST_MODULE_TRACE: trace },
  });
  return { node, trace: () => readFile(trace, 'utf8') };
}

describe('a plugin process loads only what it uses', () => {
  // bridge keeps zod (its config needs superRefine), as a plugin may.
  const configs: Record<string, Record<string, unknown>> = { announce: { port: 0, token: 'a-token-of-16-chars-or-more' } };
  for (const name of ['ping', 'echo', 'help', 'text', 'seen', 'notes', 'autorespond', 'remind', 'alerts', 'stats', 'pager', 'ratelimit', 'sanitizer', 'announce', 'auth', 'compose']) {
    it(`${name}: attached, without ${UNWANTED.join(', ')}`, async () => {
      const p = run(name, configs[name]);
      await p.node.waitForLog('attached to parent', 15_000);
      const loaded = loadedPackages(await p.trace());
      expect(loaded.has('dbus-next')).toBe(true); // the trace works: it sees what the process does load
      expect(UNWANTED.filter((m) => loaded.has(m))).toEqual([]);
    });
  }
});

describe('a bad config, checked without zod', () => {
  const cases: [string, Record<string, unknown>, RegExp[]][] = [
    ['notes', { max_notes: 0, max_lenght: 10 }, [/config\.max_notes: expected at least 1/, /config\.max_lenght: unknown key/]],
    ['remind', { max_delay: 'soon', max_pending: '25' }, [/config\.max_delay: expected a delay/, /config\.max_pending: expected a number, received string/]],
    ['stats', { top: 2.5, save_delay: [] }, [/config\.top: expected an integer/, /config\.save_delay: expected a duration/]],
  ];
  for (const [name, config, expected] of cases) {
    it(`${name}: exit 2, each bad key named`, async () => {
      const p = run(name, config);
      expect(await p.node.exited).toBe(2);
      const said = p.node.stderr.join('\n');
      for (const e of expected) expect(said).toMatch(e);
    });
  }

  it('a good config is taken, with the defaults for what it leaves out', async () => {
    const p = run('notes', { max_notes: 5 });
    await p.node.waitForLog('attached to parent', 15_000);
    expect(p.node.logs.some((l) => l.level === 60)).toBe(false);
  });
});
