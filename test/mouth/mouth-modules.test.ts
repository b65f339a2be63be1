// What the mouth loads for its networks: @xmpp/client (about 6 MB PSS) only when the config has an
// XMPP network (issue 17's lean hive; issue 19 added the network). A loader hook lists every module
// the mouth process loads; a mouth with a scripted network alone must not load it, one with an XMPP
// network (here pointing at a closed port: only the loading is looked at) must. And zod (about
// 6 MB PSS): a mouth the supervisor starts (HIVE_CONFIG_CHECKED=1) takes the config as the supervisor checked
// it (test/mouth/network-config-idempotent.test.ts) and loads none; one started by hand checks it.
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

async function mouthLoads(networks: Record<string, unknown>, env: Record<string, string> = {}): Promise<Set<string>> {
  const trace = join(dir, `mouth-${Math.random().toString(36).slice(2)}.trace`);
  const mouth = spawnNode({
    name: 'mouth', command: [process.execPath, '--import', fixture('module-trace'), join(DIST, 'mouth/main.js')], bus: bus.address,
    config: { networks }, env: { HIVE_TEST_MODULE_TRACE: trace, ...env },
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

describe('the mouth loads zod only to check a config no supervisor checked', () => {
  // Every kind of network but XMPP (which has its own test above), as the supervisor's check leaves them.
  const checked = (sock: string) => ({
    t: { type: 'script', socket: join(dir, sock), nick: 'hive', channel: '#test', backlog: 1000 },
    i: {
      type: 'irc', host: '127.0.0.1', port: 1, tls: false, tls_verify: true, nick: 'hive', alt_nicks: [], channels: [{ name: '#hive' }],
      flood: { burst: 5, rate: 0.5 }, queue_max: 500, reconnect: { min_delay: 60_000, max_delay: 120_000, stable_after: 60_000 },
      rejoin_delay: 5000, ping_timeout: 120_000, nick_regain: 30_000,
    },
  });

  it('started by the supervisor (HIVE_CONFIG_CHECKED=1): no zod', async () => {
    const loaded = await mouthLoads(checked('v1.sock'), { HIVE_CONFIG_CHECKED: '1' });
    expect(loaded.has('dbus-next')).toBe(true);
    expect(loaded.has('irc-framework')).toBe(true); // the IRC network was made from the config as given
    expect(loaded.has('zod')).toBe(false);
  });

  it('started by hand: the same config is checked, with zod', async () => {
    const loaded = await mouthLoads(checked('v0.sock'));
    expect(loaded.has('zod')).toBe(true);
  });

  it('started by hand with a bad config: refused, exit 2, the key named', async () => {
    const mouth = spawnNode({
      name: 'mouth', command: [process.execPath, join(DIST, 'mouth/main.js')], bus: bus.address,
      config: { networks: { t: { type: 'script', socket: join(dir, 'v2.sock') }, i: { type: 'irc', host: '127.0.0.1', nick: '1bad' } } },
    });
    expect(await mouth.exited).toBe(2);
    expect(mouth.stderr.join('\n')).toMatch(/bad environment or configuration: [\s\S]*networks[\s\S]*"i"[\s\S]*nick/);
  });

  it('"started by the supervisor" with what its check never passes (no networks, a network of no type): refused, exit 2', async () => {
    for (const [config, words] of [[{}, 'networks: expected an object of networks'], [{ networks: { q: { type: 'quux' } } }, 'networks.q: expected a network']] as const) {
      const mouth = spawnNode({ name: 'mouth', command: [process.execPath, join(DIST, 'mouth/main.js')], bus: bus.address, config, env: { HIVE_CONFIG_CHECKED: '1' } });
      expect(await mouth.exited).toBe(2);
      expect(mouth.stderr.join('\n')).toContain(words);
    }
  });
});
