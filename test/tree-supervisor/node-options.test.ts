// V8's heap settings per role (issue 17): the supervisor starts a built-in plugin with a small
// young generation, the mouth and an `exec:` plugin as they are; every node with at most 2 malloc
// arenas: read from the real processes' command lines and environments.
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { startHive, type TestHive } from '../helpers/hive.js';
import { fixture } from '../helpers/paths.js';
import { JEMALLOC_CONF, MOUTH_NODE_OPTIONS, NODE_MALLOC_ARENA_MAX, PLUGIN_NODE_OPTIONS, mallocEnv, nodeCommand } from '../../tree-supervisor/node-process.js';

let hive: TestHive | undefined;
afterEach(async () => { await hive?.stop(); hive = undefined; });

const cmdline = async (pid: number) => (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
const environ = async (pid: number) => new Map((await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));

describe('node options per role', () => {
  it('a use: plugin runs with a 1 MB young generation; the mouth and an exec: plugin with node\'s defaults', async () => {
    expect(PLUGIN_NODE_OPTIONS).toContain('--max-semi-space-size=1');
    expect(nodeCommand({ use: 'ping' }, '/').command.slice(1, -2)).toEqual(PLUGIN_NODE_OPTIONS);
    hive = await startHive({ networks: { console: { type: 'terminal', quiet_ms: 200 } }, plugins: [{ name: 'ping', use: 'ping' }, { name: 'relay', exec: [process.execPath, fixture('passthrough')] }] });
    const tree = await hive.tree();
    const pid = (name: string) => tree.find((n) => n.name === name)!.pid!;
    const ping = await cmdline(pid('ping'));
    expect(ping.slice(ping.indexOf('--max-semi-space-size=1') + 1).join(' ')).toMatch(/plugins\/(run\.js ping|ping\/bundle\.js)$/); // its one-file bundle once the build made it (plugin-bundle.test.ts)
    const mouth = await cmdline(pid('mouth'));
    expect(mouth.some((a) => a.startsWith('--max-semi-space-size'))).toBe(false);
    expect(mouth.filter((a) => a.startsWith('--'))).toEqual([...MOUTH_NODE_OPTIONS]);
    expect((await cmdline(pid('relay'))).some((a) => a.startsWith('--max-semi-space-size'))).toBe(false);
    // glibc's malloc keeps at most 2 arenas in every node (the operator's own setting would be kept).
    expect(NODE_MALLOC_ARENA_MAX).toBe('2');
    for (const name of ['mouth', 'ping', 'relay']) expect((await environ(pid(name))).get('MALLOC_ARENA_MAX')).toBe(process.env.MALLOC_ARENA_MAX ?? '2');
    // jemalloc in every node (scripts/install-system-deps installs libjemalloc2), loaded for real.
    expect(existsSync('/usr/lib/x86_64-linux-gnu/libjemalloc.so.2') || existsSync('/usr/lib/aarch64-linux-gnu/libjemalloc.so.2'), 'libjemalloc2 is missing: run scripts/install-system-deps (apt-get install libjemalloc2)').toBe(true);
    for (const name of ['mouth', 'ping', 'relay']) {
      const env = await environ(pid(name));
      expect(env.get('LD_PRELOAD'), name).toMatch(/libjemalloc\.so\.2$/);
      expect(env.get('MALLOC_CONF'), name).toBe(JEMALLOC_CONF);
      expect(await readFile(`/proc/${pid(name)}/maps`, 'utf8'), name).toMatch(/libjemalloc\.so\.2/);
    }
  });

  it('keeps glibc where the operator says so, or preloads something of their own', () => {
    expect(mallocEnv({ HIVE_MALLOC: 'glibc' })).toEqual({ MALLOC_ARENA_MAX: '2' });
    expect(mallocEnv({ LD_PRELOAD: '/opt/mine.so' })).toEqual({ MALLOC_ARENA_MAX: '2' });
    expect(mallocEnv({ MALLOC_CONF: 'narenas:4' })).toEqual({ MALLOC_ARENA_MAX: '2' });
    expect(mallocEnv({}).MALLOC_CONF).toBe(JEMALLOC_CONF);
  });
});
