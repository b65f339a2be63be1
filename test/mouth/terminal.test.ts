// The terminal network through a pipe: lines on stdin are PRIVMSGs from `you` to #console, what
// the bot says there comes out on stdout, and the end of stdin finishes the hive with exit 0.
import { afterEach, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { HIVE_BIN, startHive, type TestHive } from '../helpers/hive.js';
import { exec, waitForNodeLog } from './util.js';
import { sleep } from '../helpers/wait.js';

let hive: TestHive | undefined;
afterEach(async () => {
  await hive?.stop();
  hive = undefined;
});

describe('terminal network', () => {
  it('answers on stdout and exits 0 once stdin is closed and everything is answered', async () => {
    hive = await startHive({
      networks: { console: { type: 'terminal', quiet_ms: 200 } },
      plugins: [{ name: 'ping', use: 'ping' }, { name: 'multi', exec: exec('multi'), config: { label: 'M' } }],
    });
    hive.say('!ping');
    await hive.expectOutput('pong');
    const mark = hive.stdout.length;
    hive.say('!multi 3');
    await hive.expectOutput('M 3/3', { since: mark });
    expect(hive.stdout.slice(mark)).toEqual(['M 1/3', 'M 2/3', 'M 3/3']);

    // Asked right before the input ends: still answered before the hive finishes.
    const last = hive.stdout.length;
    hive.say('!ping');
    hive.proc.stdin!.end();
    const code = await Promise.race([hive.exited, new Promise((r) => setTimeout(() => r('still running'), 15_000))]);
    expect(code).toBe(0);
    expect(hive.stdout.slice(last)).toEqual(['pong']);
    // Nothing but the answers on stdout (logs go to stderr).
    expect(hive.stdout).toEqual(['pong', 'M 1/3', 'M 2/3', 'M 3/3', 'pong']);
  });

  it('stamps each line with the time it was read', async () => {
    hive = await startHive({ networks: { console: { type: 'terminal', quiet_ms: 200 } }, plugins: [{ name: 'recorder', exec: exec('recorder') }] });
    await waitForNodeLog(hive, 'recorder', 'attached to parent');
    await sleep(300);
    const t1 = Date.now();
    hive.say('first');
    const first = await waitForNodeLog(hive, 'recorder', 'seen', (l) => String(l.text).endsWith(':first'));
    await sleep(300);
    const t2 = Date.now();
    hive.say('second');
    const second = await waitForNodeLog(hive, 'recorder', 'seen', (l) => String(l.text).endsWith(':second'));
    expect(first.hiveTime as number).toBeGreaterThanOrEqual(t1 - 5);
    expect(second.hiveTime as number).toBeGreaterThanOrEqual(t2 - 5);
    expect(second.hiveTime as number).toBeGreaterThan(first.hiveTime as number);
  });

  it('an asynchronous filter keeps the order of what passes it', async () => {
    hive = await startHive({
      networks: { console: { type: 'terminal', quiet_ms: 200 } },
      plugins: [{ name: 'slow', exec: exec('slow-filter') }, { name: 'echo', use: 'echo', parent: 'slow' }],
    });
    await waitForNodeLog(hive, 'echo', 'attached to parent');
    hive.say('!echo slow one');
    hive.say('!echo two');
    hive.say('!echo three');
    await hive.expectOutput('three');
    await sleep(300);
    expect(hive.stdout).toEqual(['slow one', 'two', 'three']);
  });

  it('works as `echo !ping | hive up`: prints the answer and returns 0', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hive-pipe-'));
    try {
      const configFile = join(dir, 'hive.yaml');
      await writeFile(configFile, stringify({
        instance: `pipe${process.pid}`, bus: 'private', state_dir: join(dir, 'state'),
        networks: { console: { type: 'terminal', quiet_ms: 200 } },
        plugins: [{ name: 'ping', use: 'ping' }, { name: 'echo', use: 'echo' }],
      }));
      const r = await execa(HIVE_BIN, ['up', '--config', configFile], {
        input: '!ping\n!echo hello there\n',
        env: { HIVE_RUNTIME_DIR: join(dir, 'run'), HIVE_LOG_FORMAT: 'json' },
        reject: false,
        timeout: 20_000,
      });
      expect(r.exitCode, String(r.stderr).split('\n').slice(-5).join('\n')).toBe(0);
      expect(String(r.stdout).split('\n').filter(Boolean).sort()).toEqual(['hello there', 'pong']);
      // It ended in order: the mouth's Shutdown at the end of its input was taken (the control plane
      // is the operator's, and the terminal mouth's own for this), so nothing was held or refused.
      expect(String(r.stderr)).not.toMatch(/not the operator|node held/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
