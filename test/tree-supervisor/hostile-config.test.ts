// Hostile config and supervisor operations (issue 14, items 13, 14 and the supervisor's side of 10),
// with a real hive on a private bus: a program that does not exist, `hive load` of what the config
// refuses, a closed stdout, a node that outlives its supervisor while stopped, a node that lost its place.
import { afterEach, describe, expect, it } from 'vitest';
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { startHive, alive, HIVE_BIN, type TestHive } from '../helpers/hive.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { NODE_INTERFACE, NODE_PATH, nodeBusName } from '../../protocol/names.js';
import { callWithDeadline, connectBus } from '../../protocol/sdk/bus.js';

let hive: TestHive | undefined;
afterEach(async () => {
  await hive?.stop();
  hive = undefined;
});

const console_ = { console: { type: 'terminal', quiet_ms: 200 } };

async function token(h: TestHive): Promise<{ token: string; bus_address: string }> {
  return JSON.parse(await readFile(join(h.dir, 'run', `${h.instance}.json`), 'utf8')) as { token: string; bus_address: string };
}

/** Says `text` until a line matching `want` comes back (a tree that is healing may miss the first tries). */
async function answered(h: TestHive, text: string, want: string, timeout = 15_000): Promise<void> {
  await waitFor(async () => {
    const mark = h.stdout.length;
    h.say(text);
    await sleep(300);
    return h.stdout.slice(mark).includes(want);
  }, { timeout, what: `'${want}' answering ${text}` });
}

describe('a program that cannot be started', () => {
  it('is failed with the OS error in hive tree and the log, not restarted; stop and down do not hang', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hive-spawn-'));
    // Exists and is executable, but its interpreter does not: only exec itself (under setpriv) fails.
    const script = join(dir, 'orphan-script');
    await writeFile(script, '#!/nonexistent/interpreter\necho never\n');
    await chmod(script, 0o755);
    hive = await startHive({
      networks: console_,
      plugins: [
        { name: 'ghost', exec: ['/nonexistent/hive-program'] },
        { name: 'nopath', exec: ['no-such-program-on-path-hive'] },
        { name: 'badshebang', exec: [script] },
        { name: 'ping', use: 'ping' },
      ],
    });
    const tree = await hive.tree();
    const byName = new Map(tree.map((n) => [n.name, n as typeof n & { error: string | null }]));
    for (const name of ['ghost', 'nopath']) {
      expect(byName.get(name)!.state, name).toBe('failed');
      expect(byName.get(name)!.pid, name).toBeNull();
      expect(byName.get(name)!.error, name).toMatch(/ENOENT/);
    }
    await waitFor(async () => (await hive!.node('badshebang')).state === 'failed', { what: 'badshebang failed' });
    const bad = (await hive.node('badshebang')) as { error?: string | null; restarts: number };
    expect(bad.error).toMatch(/No such file|ENOENT/);
    expect(bad.restarts).toBe(0);
    expect(hive.logs.some((l) => l.msg?.toString().startsWith('node cannot be started') && l.child === 'ghost' && String(l.error).includes('/nonexistent/hive-program'))).toBe(true);
    // The text view shows the reason under the table.
    const text = await hive.cli('tree', '--config', hive.configFile);
    expect(text.stdout).toMatch(/^\s*ghost\s+exec\s+failed/m);
    expect(text.stdout).toContain('ghost: cannot start: /nonexistent/hive-program: no such file (ENOENT)');
    // The rest of the tree is not disturbed.
    await answered(hive, '!ping', 'pong');

    // Start tries again (and fails again, at once, saying why); stop and down answer.
    const start = await hive.cli('start', 'ghost', '--config', hive.configFile);
    expect(start.exitCode, start.stderr).toBe(1);
    expect(start.stderr).toContain("'ghost' cannot start: /nonexistent/hive-program: no such file (ENOENT)");
    expect((await hive.node('ghost')).state).toBe('failed');
    const stop = await hive.cli('stop', 'ghost', '--config', hive.configFile);
    expect(stop.exitCode, stop.stderr).toBe(0);
    expect((await hive.node('ghost')).state).toBe('stopped');
    const mouthPid = (await hive.node('mouth')).pid!;
    const down = await hive.cli('down', '--config', hive.configFile);
    expect(down.exitCode, down.stderr).toBe(0);
    expect(await hive.exited).toBe(0);
    expect(alive(mouthPid)).toBe(false);
  });
});

describe('hive load checks a spec as the config does', () => {
  it('refuses reserved names, restart: on a remote node, and a billion-laughs spec, with exit 4 and the key', async () => {
    hive = await startHive({ networks: console_, plugins: [{ name: 'ping', use: 'ping' }] });
    const load = (yaml: string) => execa(HIVE_BIN, ['load', '-', '--config', hive!.configFile], { env: hive!.env, input: yaml, reject: false, timeout: 30_000 });

    const supervisor = await load('name: Supervisor\nuse: echo\n');
    expect(supervisor.exitCode).toBe(4);
    expect(supervisor.stderr).toContain("`name`: 'Supervisor' is reserved");
    const mouth = await load('name: mouth\nuse: echo\n');
    expect(mouth.exitCode).toBe(4);
    expect(mouth.stderr).toContain('`name`:');

    const remote = await load('name: far\nremote: true\nrestart: { max: 3 }\n');
    expect(remote.exitCode).toBe(4);
    expect(remote.stderr).toContain('`restart`: has no effect on a remote node');

    const laughs = ['a: &a [x, x, x, x, x, x, x, x, x, x]', ...'bcdefg'.split('').map((c, i) => `${c}: &${c} [${Array(10).fill(`*${'abcdefg'[i]}`).join(', ')}]`), 'name: lol', 'use: echo'].join('\n');
    const bomb = await load(laughs);
    expect(bomb.exitCode).toBe(4);
    expect(bomb.stderr).toMatch(/billion laughs/);

    const huge = await load(`name: big\nuse: echo\nconfig: { x: "${'y'.repeat(1_100_000)}" }\n`);
    expect(huge.exitCode).toBe(4);
    expect(huge.stderr).toContain('at most 1048576');

    // None of them became a node; the tree still answers.
    expect((await hive.tree()).map((n) => n.name).sort()).toEqual(['mouth', 'ping']);
    await answered(hive, '!ping', 'pong');
  });
});

describe('the supervisor and an oversized call', () => {
  it('refuses a body larger than any it takes unread, from any caller, and keeps serving', async () => {
    hive = await startHive({ networks: console_, plugins: [{ name: 'ping', use: 'ping' }] });
    const info = await token(hive);
    const stranger = await connectBus(info.bus_address);
    try {
      // Four million map entries (16 MB as the bus carries it) would take the supervisor seconds and gigabytes to decode.
      const entries = Object.fromEntries(Array.from({ length: 200_000 }, (_, i) => [`k${i}`, 'v'.repeat(60)]));
      const err = await callWithDeadline(stranger, { destination: `org.hive.${hive.instance}.Supervisor`, path: '/org/hive/Supervisor', interface: 'org.hive.Supervisor1', member: 'Load', signature: 'a{ss}', body: [entries] }, 20_000)
        .then(() => undefined, (e: Error & { code?: string }) => e);
      expect(err?.code).toBe('InvalidMessage');
      expect(err?.message).toMatch(/larger than \d+ bytes; not read/);
    } finally {
      stranger.disconnect();
    }
    expect((await hive.tree()).map((n) => n.name).sort()).toEqual(['mouth', 'ping']);
    await answered(hive, '!ping', 'pong');
  });
});

describe('the hive command and a closed stdout', () => {
  it('every subcommand ends quietly (exit 0, no stack trace) when its reader went away', async () => {
    hive = await startHive({ networks: console_, plugins: [{ name: 'ping', use: 'ping' }] });
    const runs: [string[], number][] = [
      [['tree', '--json', '--config', hive.configFile], 0],
      [['tree', '--config', hive.configFile], 0],
      [['--help'], 0],
      [['load', '--help'], 0],
      [['tap', '--config', hive.configFile, '--count', '1'], 0],
    ];
    for (const [args, code] of runs) {
      const p = execa(HIVE_BIN, args, { env: hive.env, reject: false, stdout: 'pipe', stderr: 'pipe', timeout: 30_000 });
      // The reader is gone before the command writes anything.
      p.stdout!.destroy();
      if (args[0] === 'tap') {
        // !ping only once tap is watching (it says so on stderr, as startTap waits for): said
        // earlier, both of its messages go by unseen and tap waits for one that never comes.
        let err = '';
        p.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
        await waitFor(() => err.includes('hive tap: watching') || p.exitCode !== null, { timeout: 15_000, interval: 20, what: () => `hive tap to be watching (stderr: ${err})` });
        hive.say('!ping');
      }
      const r = await p;
      expect(String(r.stderr), args.join(' ')).not.toMatch(/EPIPE|Error|at /);
      expect(r.exitCode, args.join(' ')).toBe(code);
    }
  });
});

describe('nodes do not outlive their hive', () => {
  it('a plugin that was stopped (SIGSTOP) when the supervisor was killed -9 is gone, even before SIGCONT', async () => {
    hive = await startHive({ networks: console_, plugins: [{ name: 'ping', use: 'ping' }, { name: 'echo', use: 'echo' }] });
    const ping = (await hive.node('ping')).pid!;
    const mouth = (await hive.node('mouth')).pid!;
    process.kill(ping, 'SIGSTOP');
    try {
      hive.proc.kill('SIGKILL');
      await hive.exited;
      await waitFor(() => !alive(ping), { timeout: 5_000, what: `stopped plugin ${ping} gone` });
      await waitFor(() => !alive(mouth), { timeout: 5_000, what: `mouth ${mouth} gone` });
    } finally {
      try { process.kill(ping, 'SIGCONT'); } catch { /* gone */ }
    }
  });
});

describe('a node that someone else tries to move (issue 16)', () => {
  // Before issue 16 both moves worked with the hive token, and the supervisor put echo back
  // (misplaced, then back in place). Now neither takes: SetParent is the supervisor's alone, and
  // an Attach under echo's name needs echo's bus name and echo's own credential. The runtime
  // file's credential (the operator's) is not a node's.
  it('is neither moved by another SetParent nor evicted by an Attach under its name: refused, and it keeps answering in place', async () => {
    hive = await startHive({ networks: console_, plugins: [{ name: 'ping', use: 'ping' }, { name: 'echo', use: 'echo' }] });
    await answered(hive, '!echo one', 'one');
    const { token: hiveToken, bus_address } = await token(hive);
    const bus = await connectBus(bus_address);
    const refusal = (p: Promise<unknown>) => p.then(() => 'accepted', (e: { code?: string }) => e.code);
    try {
      expect(await refusal(callWithDeadline(bus, { destination: nodeBusName(hive.instance, 'echo'), path: NODE_PATH, interface: NODE_INTERFACE, member: 'SetParent', signature: 'ss', body: [nodeBusName(hive.instance, 'ping'), hiveToken] }, 5000))).toBe('NotAuthorized');
      expect(await refusal(callWithDeadline(bus, { destination: nodeBusName(hive.instance, 'mouth'), path: NODE_PATH, interface: NODE_INTERFACE, member: 'Attach', signature: 'ss', body: ['echo', hiveToken] }, 5000))).toBe('BadToken');
      await answered(hive, '!echo two', 'two');
      const after = (await hive.node('echo')) as { misplaced?: boolean; misplacements?: number; parent: string | null };
      expect(after).toMatchObject({ misplaced: false, misplacements: 0, parent: 'mouth' });
    } finally {
      bus.disconnect();
    }
  });
});
