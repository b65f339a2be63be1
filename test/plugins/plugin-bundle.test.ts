// One file per built-in plugin's entry point (issue 17, scripts/bundle-plugins.ts): the build makes
// dist/plugins/NAME/bundle.js for every built-in, the supervisor runs a built-in from it, and a
// bundle holds what plugins/run.ts would load for that plugin, less what must stay apart: dbus-next
// (one copy, which protocol/dbus-next.ts and bus-gate.ts patch through the require cache, its XML
// half still lazy) and zod (only in the lazy chunk for a node's first child, and in bridge, which
// checks its config with it). A bundle that is missing or older than tsc's output is not run.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPrivateBus, startTestRoot, type PrivateBus, type TestRoot } from '../helpers/bus.js';
import { spawnNode, stopAllNodes, TEST_INSTANCE } from '../helpers/node-process.js';
import { startHive, type TestHive } from '../helpers/hive.js';
import { nodeBusName } from '../../protocol/names.js';
import { DIST, fixture, pluginRunner } from '../helpers/paths.js';

// The supervisor's module as built (from the sources it would look for dist/ one level too high).
const { pluginEntry } = await import(join(DIST, 'tree-supervisor/node-process.js')) as { pluginEntry: (use: string) => string[] };

const BUILD_HINT = 'run `npm run build` (tsc, then `node dist/scripts/bundle-plugins.js`)';
const builtIns = (await readdir(join(DIST, 'plugins'), { withFileTypes: true }))
  .filter((d) => d.isDirectory() && existsSync(join(DIST, 'plugins', d.name, 'index.js'))).map((d) => d.name).sort();
const bundleOf = (name: string) => join(DIST, 'plugins', name, 'bundle.js');
/** The npm packages a bundle holds at start, from the source maps of it and of the chunks it imports statically (bridge shares zod with the lazy chunk). */
async function packagesIn(file: string): Promise<Set<string>> {
  const files = [file, ...[...(await readFile(file, 'utf8')).matchAll(/(?:from|import)\s*["'](\.\/bundle-[^"']+\.js)["']/g)].map((m) => join(file, '..', m[1]!))];
  const out = new Set<string>();
  for (const f of files) {
    const map = JSON.parse(await readFile(`${f}.map`, 'utf8')) as { sources: string[] };
    for (const s of map.sources) { const p = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(s)?.[1]; if (p) out.add(p); }
  }
  return out;
}
/** Never in a plugin process (plugin-modules.test.ts), nor copied into a bundle. */
const UNWANTED = ['yaml', 'execa', 'pino-pretty', 'irc-framework', 'lodash', 'xml2js', 'xmlbuilder', 'sax'];

describe('the build bundles every built-in plugin', () => {
  it('finds the built-ins (the list the next tests walk)', () => {
    expect(builtIns).toContain('ping');
    expect(builtIns.length).toBeGreaterThanOrEqual(10);
  });
  for (const name of builtIns) {
    it(`${name}: a current bundle, run by the supervisor; pino and the SDK inside, dbus-next and zod not`, async () => {
      const bundle = bundleOf(name);
      if (!existsSync(bundle)) throw new Error(`no ${bundle}: ${BUILD_HINT}`);
      if ((await stat(bundle)).mtimeMs < (await stat(join(DIST, 'plugins', name, 'index.js'))).mtimeMs) throw new Error(`${bundle} is older than tsc's output: ${BUILD_HINT}`);
      expect(pluginEntry(name)).toEqual([bundle]);
      const held = await packagesIn(bundle);
      expect(held.has('pino')).toBe(true); // the map lists what is inside: it does see packages
      expect(held.has('dbus-next')).toBe(false);
      expect(held.has('zod')).toBe(name === 'bridge');
      expect(UNWANTED.filter((p) => held.has(p))).toEqual([]);
      const map = JSON.parse(await readFile(`${bundle}.map`, 'utf8')) as { sources: string[] };
      // Positions map back to the TypeScript sources, not to tsc's output.
      expect(map.sources).toContain(`../../../plugins/${name}/index.ts`);
      expect(map.sources).toContain('../../../protocol/sdk/run.ts');
    });
  }
});

describe('which entry the supervisor runs', () => {
  const fake = join(DIST, 'plugins', `zzbundletest${process.pid}`);
  afterAll(async () => { await rm(fake, { recursive: true, force: true }); });

  it('the runner for a bundle older than tsc\'s output, for none, and for a name that is not one', async () => {
    const name = `zzbundletest${process.pid}`;
    await mkdir(fake, { recursive: true });
    await writeFile(join(fake, 'index.js'), 'export default undefined;\n');
    expect(pluginEntry(name)).toEqual([pluginRunner, name]);
    await writeFile(join(fake, 'bundle.js'), 'process.exit(3);\n');
    expect(pluginEntry(name)).toEqual([join(fake, 'bundle.js')]);
    const old = new Date(Date.now() - 60_000);
    await utimes(join(fake, 'bundle.js'), old, old);
    expect(pluginEntry(name)).toEqual([pluginRunner, name]);
    // Not a plugin name: never looked up as a path (the runner refuses it).
    for (const bad of ['../ping', 'ping/../../x', '', '.hidden', 'a b']) expect(pluginEntry(bad)).toEqual([pluginRunner, bad]);
  });
});

describe('a bundled plugin process', () => {
  let bus: PrivateBus, root: TestRoot, dir: string;
  beforeAll(async () => {
    bus = await startPrivateBus();
    root = await startTestRoot(bus.address);
    dir = await mkdtemp(join(tmpdir(), 'hive-plugin-bundle-'));
  });
  afterEach(async () => { await stopAllNodes(); });
  afterAll(async () => {
    await root?.stop();
    await bus?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('loads one Hive module (its bundle), dbus-next from node_modules without its XML half, and no zod', async () => {
    const trace = join(dir, 'ping.trace');
    const node = spawnNode({
      name: 'ping', command: [process.execPath, '--import', fixture('module-trace'), bundleOf('ping')], bus: bus.address, parent: nodeBusName(TEST_INSTANCE, 'mouth'),
      env: { HIVE_STATE_DIR: join(dir, 'ping'), HIVE_TEST_MODULE_TRACE: trace },
    });
    await node.waitForLog('attached to parent', 15_000);
    const loaded = (await readFile(trace, 'utf8')).split('\n').filter(Boolean);
    const hive = loaded.filter((u) => u.startsWith(`file://${DIST}/`) && !u.startsWith(`file://${DIST}/test/fixtures/`));
    expect(hive).toEqual([`file://${bundleOf('ping')}`]);
    const packages = new Set(loaded.map((u) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u)?.[1]).filter(Boolean));
    expect(packages.has('dbus-next')).toBe(true);
    for (const p of ['zod', 'pino', 'xml2js', ...UNWANTED]) expect(packages.has(p)).toBe(false);
  });

  it('refuses a bad config with exit 2 and each bad key named, as the runner does', async () => {
    const node = spawnNode({
      name: 'notes', command: [process.execPath, bundleOf('notes')], bus: bus.address, parent: nodeBusName(TEST_INSTANCE, 'mouth'),
      config: { max_notes: 0, max_lenght: 10 }, env: { HIVE_STATE_DIR: join(dir, 'notes') },
    });
    expect(await node.exited).toBe(2);
    const said = node.stderr.join('\n');
    expect(said).toMatch(/config\.max_notes: expected at least 1/);
    expect(said).toMatch(/config\.max_lenght: unknown key/);
  });
});

describe('in a hive', () => {
  let hive: TestHive | undefined;
  afterEach(async () => { await hive?.stop(); hive = undefined; });

  it('`use: ping` runs ping\'s bundle, which answers', async () => {
    hive = await startHive({ networks: { console: { type: 'terminal', quiet_ms: 200 } }, plugins: [{ name: 'ping', use: 'ping' }] });
    const pid = (await hive.node('ping')).pid!;
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
    expect(argv.at(-1)).toBe(bundleOf('ping'));
    const since = hive.stdout.length;
    hive.say('!ping');
    expect(await hive.expectOutput(/pong/, { since })).toMatch(/pong/);
  });
});
