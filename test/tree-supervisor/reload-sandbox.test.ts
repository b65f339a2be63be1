// What a sandboxed node cannot see after `hive reload --config OTHER` (issue 20's review): the
// config file the hive started with stays hidden (it holds secrets too), as does the new one, while
// another file of the same folder (its cwd, bound read-only) is readable — so the check can fail.
// And systemd's notify socket folder (/run/systemd) is hidden: under NotifyAccess=all any process
// of the unit that reaches it could send READY=1, WATCHDOG=1 or STOPPING=1. And the unloads of
// one reload go side by side (a depth at a time): three plugins that ignore SIGTERM take one stop
// grace (5 s), not three, and the reload answers well within its deadline.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { startHive, type TestHive } from '../helpers/hive.js';
import { waitFor } from '../helpers/wait.js';

let hive: TestHive;
beforeAll(async () => {
  hive = await startHive({ networks: { console: { type: 'terminal', quiet_ms: 200 } }, plugins: [{ name: 'ping', use: 'ping' }] });
}, 60_000);
afterAll(async () => { await hive?.stop(); });

const SCRIPT = 'for f in hive.yaml hive-v2.yaml visible.txt; do echo "peek $f $(cat "$f" 2>/dev/null | wc -c)"; done >&2; '
  + 'echo "peek systemd $(ls -A /run/systemd 2>/dev/null | wc -l)" >&2; sleep 600';

describe('hive reload --config OTHER and the sandbox', () => {
  it('hides every config file the hive has read, and /run/systemd, from a sandboxed node started after', { timeout: 60_000 }, async () => {
    await writeFile(join(hive.dir, 'visible.txt'), 'not a secret\n');
    const c = parse(await readFile(hive.configFile, 'utf8')) as { plugins: Record<string, unknown>[] };
    c.plugins.push({ name: 'peek', exec: ['sh', '-c', SCRIPT], sandbox: true });
    const v2 = join(hive.dir, 'hive-v2.yaml');
    await writeFile(v2, stringify(c));
    const r = await hive.cli('reload', '--config', v2);
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/load {5}peek/);
    const seen = await waitFor(async () => {
      const lines = (await hive.cli('logs', 'peek', '--json', '--config', v2)).stdout.trim().split('\n').filter(Boolean)
        .map((l) => String((JSON.parse(l) as { text?: unknown }).text ?? '')).filter((t) => t.startsWith('peek '));
      return lines.length === 4 ? Object.fromEntries(lines.map((l) => [l.split(' ')[1], Number(l.split(' ')[2])])) : undefined;
    }, { timeout: 20_000, what: 'peek\'s four lines (bwrap: apt install bubblewrap)' });
    // Read as empty: the original file (no longer the one the hive runs) and the new one; the other file in full.
    expect(seen).toMatchObject({ 'hive.yaml': 0, 'hive-v2.yaml': 0, 'visible.txt': 'not a secret\n'.length });
    // Outside, both config files have content: the zeros above are the sandbox's doing.
    expect((await readFile(hive.configFile, 'utf8')).length).toBeGreaterThan(0);
    // systemd's folder: empty inside; where it has entries outside, the check can fail.
    expect(seen.systemd).toBe(0);
    if (existsSync('/run/systemd')) console.log(`reload-sandbox.test: /run/systemd has ${readdirSync('/run/systemd').length} entries outside, 0 inside`);
  });
});

describe('hive reload: unloads', () => {
  it('unloads the plugins of one depth side by side', { timeout: 60_000 }, async () => {
    const stubborn = (name: string, parent?: string) => ({ name, exec: ['sh', '-c', 'trap "" TERM; while :; do sleep 1; done'], ...(parent && { parent }) });
    const c = parse(await readFile(hive.configFile, 'utf8')) as { plugins: Record<string, unknown>[] };
    const base = c.plugins.filter((p) => p.name === 'ping');
    await writeFile(hive.configFile, stringify({ ...c, plugins: [...base, stubborn('s1'), stubborn('s2'), stubborn('s3')] }));
    let r = await hive.cli('reload', '--config', hive.configFile);
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    expect(r.stdout.match(/^load {5}s\d /gm)).toHaveLength(3);
    await writeFile(hive.configFile, stringify({ ...c, plugins: base }));
    const t0 = Date.now();
    r = await hive.cli('reload', '--config', hive.configFile);
    const took = Date.now() - t0;
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    expect(r.stdout.match(/^unload {3}s\d$/gm)).toHaveLength(3);
    // Each one takes the 5 s grace and SIGKILL; one after the other would be 15 s or more.
    expect(took).toBeGreaterThan(4_500);
    expect(took).toBeLessThan(12_000);
    console.log(`reload-sandbox.test: three stubborn plugins unloaded in ${took} ms`);
    expect((await hive.tree()).map((n) => n.name).sort()).toEqual(['mouth', 'ping']);
  });
});
