// What the mouth loads for its networks: @xmpp/client (about 6 MB PSS) only when the config has an
// XMPP network (issue 17's lean hive; issue 19 added the network). A loader hook lists every module
// the mouth process loads; a mouth with a scripted network alone must not load it, one with an XMPP
// network (here pointing at a closed port: only the loading is looked at) must.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPrivateBus, type PrivateBus } from '../helpers/bus.js';
import { spawnNode, stopAllNodes } from '../helpers/node-process.js';
import { DIST, fixture } from '../helpers/paths.js';

let bus: PrivateBus, dir: string;
beforeAll(async () => {
  bus = await startPrivateBus();
  dir = await mkdtemp(join(tmpdir(), 'hive-mouth-modules-'));
});
afterEach(async () => { await stopAllNodes(); });
afterAll(async () => {
  await bus?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const loadedPackages = (trace: string) => new Set([...trace.matchAll(/\/node_modules\/((?:@[^/]+\/)?[^/]+)\//g)].map((m) => m[1]!));

async function mouthLoads(networks: Record<string, unknown>): Promise<Set<string>> {
  const trace = join(dir, `mouth-${Math.random().toString(36).slice(2)}.trace`);
  const mouth = spawnNode({
    name: 'mouth', command: [process.execPath, '--import', fixture('module-trace'), join(DIST, 'mouth/main.js')], bus: bus.address,
    config: { networks }, env: { HIVE_TEST_MODULE_TRACE: trace },
  });
  await mouth.waitForLog('mouth running', 15_000);
  return loadedPackages(await readFile(trace, 'utf8'));
}

describe('the mouth loads a network kind only when the config has one', () => {
  it('without an XMPP network: no @xmpp package', async () => {
    const loaded = await mouthLoads({ t: { type: 'script', socket: join(dir, 's1.sock') } });
    expect(loaded.has('dbus-next')).toBe(true); // the trace sees what the process does load
    expect([...loaded].filter((p) => p.startsWith('@xmpp/'))).toEqual([]);
  });

  it('with an XMPP network: @xmpp/client', async () => {
    const loaded = await mouthLoads({
      t: { type: 'script', socket: join(dir, 's2.sock') },
      x: { type: 'xmpp', jid: 'hive@localhost', password: 'pw', host: '127.0.0.1', port: 1, tls: 'none' },
    });
    expect(loaded.has('@xmpp/client')).toBe(true);
  });
});
