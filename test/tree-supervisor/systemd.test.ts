// `hive up` under systemd's Type=notify (issue 20): the datagrams it sends, received on a real
// unix datagram socket (python3, with the sender's credentials): READY=1 with a STATUS once the
// tree is up, STATUS again when a node dies and comes back, RELOADING=1 then READY=1 around a
// SIGHUP reload, WATCHDOG=1 every WATCHDOG_USEC/2, STOPPING=1 at SIGTERM, and nothing after it
// (a reload under way at SIGTERM does not say READY=1; a SIGHUP then is refused). No node inherits
// NOTIFY_SOCKET; the log is JSON lines with the node's name when not on a TTY. A NOTIFY_SOCKET
// that is not a socket path is refused in the log, and the hive runs on.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { stringify } from 'yaml';
import { HIVE_BIN } from '../helpers/hive.js';
import { waitFor } from '../helpers/wait.js';

const LISTENER = `
import json, socket, struct, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(sys.argv[1])
print(json.dumps({"listening": True}), flush=True)
while True:
    data, anc, _flags, _addr = s.recvmsg(4096, socket.CMSG_SPACE(12))
    pid = None
    for level, kind, d in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", d[:12])[0]
    print(json.dumps({"pid": pid, "data": data.decode(), "t": time.monotonic() * 1000}), flush=True)
`;

/** at: when the test read it (Date.now()); t: when the listener received it (monotonic ms). */
interface Datagram { pid: number | null; data: string; at: number; t: number }

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => { for (const c of cleanup.splice(0).reverse()) await c(); });

async function listen(dir: string): Promise<{ path: string; got: Datagram[] }> {
  const path = join(dir, 'notify.sock');
  const got: Datagram[] = [];
  const py = execa('python3', ['-c', LISTENER, path], { reject: false, buffer: false });
  cleanup.push(() => { py.kill('SIGKILL'); });
  let buf = '';
  let listening = false;
  py.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl;
    while ((nl = buf.indexOf('\n')) !== -1) {
      const o = JSON.parse(buf.slice(0, nl)) as { listening?: boolean; pid: number | null; data: string; t: number };
      buf = buf.slice(nl + 1);
      if (o.listening) listening = true;
      // systemd-notify's BARRIER=1 (its fd closed unread here) only says the message before it was read.
      else if (o.data !== 'BARRIER=1') got.push({ pid: o.pid, data: o.data, at: Date.now(), t: o.t });
    }
  });
  await waitFor(() => listening, { timeout: 10_000, what: 'the python3 listener (apt install python3)' });
  return { path, got };
}

async function hiveUp(dir: string, env: Record<string, string>): Promise<{ proc: ResultPromise; logs: string[]; config: string; instance: string }> {
  const instance = `sd${process.pid}_${Math.floor(Math.random() * 1e6)}`;
  const config = join(dir, 'hive.yaml');
  await writeFile(config, stringify({
    instance, bus: 'private', state_dir: join(dir, 'state'), log_level: 'info',
    networks: { console: { type: 'terminal', quiet_ms: 200 } },
    plugins: [{ name: 'ping', use: 'ping' }, { name: 'echo', use: 'echo' }],
  }));
  // As systemd runs it: no TTY, no HIVE_LOG_FORMAT.
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HIVE_') && k !== 'NOTIFY_SOCKET' && !k.startsWith('WATCHDOG_'))) as Record<string, string>;
  const proc = execa(HIVE_BIN, ['up', '--config', config], { env: { ...base, HIVE_RUNTIME_DIR: join(dir, 'run'), ...env }, extendEnv: false, stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', reject: false, buffer: false, cleanup: true });
  cleanup.push(async () => { if (proc.exitCode === null) { proc.kill('SIGKILL'); await proc; } });
  const logs: string[] = [];
  let buf = '';
  proc.stderr!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl;
    while ((nl = buf.indexOf('\n')) !== -1) { logs.push(buf.slice(0, nl)); buf = buf.slice(nl + 1); }
  });
  return { proc, logs, config, instance };
}

const tree = async (dir: string, instance: string) => {
  const r = await execa(HIVE_BIN, ['tree', '--json', '--instance', instance], { env: { HIVE_RUNTIME_DIR: join(dir, 'run') }, reject: false });
  return (JSON.parse(String(r.stdout)) as { nodes: { name: string; pid: number; state: string }[] }).nodes;
};

describe('hive up under systemd (Type=notify)', () => {
  it('notifies READY, STATUS, RELOADING, WATCHDOG and STOPPING, keeps NOTIFY_SOCKET from its nodes, and logs JSON with the node names', { timeout: 60_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hive-sd-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const { path, got } = await listen(dir);
    const t0 = Date.now();
    const hive = await hiveUp(dir, { NOTIFY_SOCKET: path, WATCHDOG_USEC: '400000' });
    const ready = await waitFor(() => got.find((d) => d.data.split('\n').includes('READY=1')), { timeout: 30_000, what: 'READY=1 (sent by systemd-notify: apt install systemd; or socat: apt install socat)' });
    expect(ready.data).toMatch(/^STATUS=3\/3 nodes running$/m);
    // Ready means the tree is up: every node runs now.
    expect((await tree(dir, hive.instance)).map((n) => n.state)).toEqual(['running', 'running', 'running']);
    // The watchdog: every WATCHDOG_USEC/2 = 200 ms. The rhythm is the supervisor's decision, which it
    // logs; the gaps between arrivals are not asserted, since each ping is sent by a process of its
    // own, and one spawn late on a busy machine would move them without anything being wrong.
    const armed = await waitFor(() => hive.logs.filter((l) => l.includes('systemd watchdog: notifying')).map((l) => JSON.parse(l) as { everyMs?: number; time: number })[0], { timeout: 5_000, what: 'the watchdog armed (its log line)' });
    expect(armed.everyMs).toBe(200);
    // And the pings do come: four of them (800 ms of timer; the 5 s deadline guards against a hang only).
    await waitFor(() => got.filter((d) => d.data === 'WATCHDOG=1').length >= 4, { timeout: 5_000, what: 'WATCHDOG=1 four times' });
    // Nor more of them than one an interval since the timer was set (its log line): a late sender
    // only lowers the count. +2: the timer starts from the event loop's cached clock, which may be a
    // little older than the line's time.
    const pings = got.filter((d) => d.data === 'WATCHDOG=1').map((d) => d.at);
    expect(pings.length).toBeLessThanOrEqual(Math.floor((pings.at(-1)! - armed.time) / 200) + 2);

    // No node inherits the socket (it could tell systemd it is ready, or feed the watchdog).
    const nodes = await tree(dir, hive.instance);
    for (const n of nodes) expect(readFileSync(`/proc/${n.pid}/environ`, 'utf8').split('\0').filter((v) => /^(NOTIFY_SOCKET|WATCHDOG_)/.test(v)), n.name).toEqual([]);

    // A node dies and comes back: STATUS says so, then says all run again.
    const mark = got.length;
    process.kill(nodes.find((n) => n.name === 'ping')!.pid, 'SIGKILL');
    await waitFor(() => got.slice(mark).some((d) => /^STATUS=2\/3 nodes running, 1 restarting$/.test(d.data)), { timeout: 10_000, what: 'STATUS with ping restarting' });
    await waitFor(() => got.slice(mark).some((d) => d.data === 'STATUS=3/3 nodes running'), { timeout: 10_000, what: 'STATUS all running again' });

    // SIGHUP: RELOADING=1, then READY=1 with the tree after the reload.
    const cfg = await readFile(hive.config, 'utf8');
    await writeFile(hive.config, cfg.replace('plugins:\n', 'plugins:\n  - name: help\n    use: help\n'));
    const before = got.length;
    hive.proc.kill('SIGHUP');
    await waitFor(() => got.slice(before).some((d) => d.data.startsWith('READY=1')), { timeout: 20_000, what: 'READY=1 after the reload' });
    const around = got.slice(before).filter((d) => d.data !== 'WATCHDOG=1').map((d) => d.data);
    expect(around[0]).toBe('RELOADING=1\nSTATUS=reloading the config');
    expect(around.find((d) => d.startsWith('READY=1'))).toMatch(/^STATUS=\d\/4 nodes running/m);

    // SIGTERM: STOPPING=1 first, then a clean exit.
    const end = got.length;
    hive.proc.kill('SIGTERM');
    await hive.proc;
    expect(hive.proc.exitCode).toBe(0);
    await waitFor(() => got.slice(end).some((d) => d.data === 'STOPPING=1\nSTATUS=stopping'), { what: 'STOPPING=1' });
    // As root, systemd-notify sends each message as hive up's own pid (NotifyAccess=main would do);
    // otherwise as itself, a child of hive up (NotifyAccess=all, docs/deploy.md).
    if (process.getuid?.() === 0) expect(got.filter((d) => d.pid !== hive.proc.pid)).toEqual([]);
    else expect(got.every((d) => d.pid !== null && d.pid !== hive.proc.pid)).toBe(true);
    console.log(`systemd.test: READY after ${ready.at - t0} ms; ${got.length} messages; sent as hive up's pid: ${got.filter((d) => d.pid === hive.proc.pid).length}/${got.length}`);

    // The log: JSON lines, each naming its node (journald keeps them as they are).
    expect(hive.logs.length).toBeGreaterThan(5);
    for (const line of hive.logs) {
      const o = JSON.parse(line) as { node?: unknown; msg?: unknown };
      expect(typeof o.node, line).toBe('string');
    }
    expect(hive.logs.some((l) => (JSON.parse(l) as { node: string }).node === 'ping')).toBe(true);
  });

  it('says nothing after STOPPING=1: a reload under way at SIGTERM sends no READY=1, and a SIGHUP while stopping is refused', { timeout: 60_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hive-sd-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const { path, got } = await listen(dir);
    const hive = await hiveUp(dir, { NOTIFY_SOCKET: path });
    await waitFor(() => got.some((d) => d.data.startsWith('READY=1')), { timeout: 30_000, what: 'READY=1 (sent by systemd-notify: apt install systemd; or socat: apt install socat)' });
    // A plugin that ignores SIGTERM: unloading it takes the stop's grace (5 s), so the reload is still under way at SIGTERM.
    const cfg = await readFile(hive.config, 'utf8');
    await writeFile(hive.config, cfg.replace('plugins:\n', 'plugins:\n  - name: stubborn\n    exec: [sh, -c, "trap \'\' TERM; while :; do sleep 1; done"]\n'));
    let mark = got.length;
    hive.proc.kill('SIGHUP');
    await waitFor(() => got.slice(mark).some((d) => d.data.startsWith('READY=1')), { timeout: 20_000, what: 'READY=1 after loading stubborn' });
    await writeFile(hive.config, cfg);
    mark = got.length;
    hive.proc.kill('SIGHUP');
    await waitFor(() => got.slice(mark).some((d) => d.data.startsWith('RELOADING=1')), { timeout: 10_000, what: 'RELOADING=1' });
    // Not proc.kill: execa would SIGKILL it 5 s later, and this stop takes the stubborn node's grace.
    process.kill(hive.proc.pid!, 'SIGTERM');
    await waitFor(() => got.slice(mark).some((d) => d.data.startsWith('STOPPING=1')), { timeout: 10_000, what: 'STOPPING=1' });
    hive.proc.kill('SIGHUP');
    await hive.proc;
    expect(hive.proc.exitCode, `${String(hive.proc.signalCode)} ${hive.logs.slice(-8).join('\n')}`).toBe(0);
    const after = got.slice(mark).map((d) => d.data).filter((d) => d !== 'WATCHDOG=1');
    const stop = after.findIndex((d) => d.startsWith('STOPPING=1'));
    expect(after[0]).toMatch(/^RELOADING=1/);
    expect(after.slice(stop + 1).filter((d) => /^(READY|RELOADING)=1/m.test(d))).toEqual([]);
    expect(hive.logs.some((l) => l.includes('the hive is stopping: not reloading'))).toBe(true);
  });

  it('runs on, saying why, when NOTIFY_SOCKET is not a socket path', { timeout: 60_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hive-sd-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const hive = await hiveUp(dir, { NOTIFY_SOCKET: 'relative/notify.sock' });
    await waitFor(() => hive.logs.some((l) => l.includes('"tree ready"')), { timeout: 30_000, what: 'tree ready' });
    expect(hive.logs.some((l) => l.includes('NOTIFY_SOCKET is not a unix socket path'))).toBe(true);
    hive.proc.kill('SIGTERM');
    await hive.proc;
    expect(hive.proc.exitCode).toBe(0);
  });
});
