// A node on another machine (issue 9, "Beyond one machine"; docs/deploy.md): a `remote: true` node
// of the config that the test starts itself, as an operator would on the other host, talking to
// the hive through a forwarded socket: its own filtering proxy's (issue 16; `hive remote far`
// gives the socket and the node's credential), never the bus's. socat between two unix sockets
// stands in for `ssh -L`. Through it the node cannot reach the supervisor. Killing the tunnel cuts the node off: the hive notices and re-parents its child; when
// the tunnel is back the node (HIVE_RECONNECT=1) comes back on its own and the tree heals.
import { afterEach, describe, expect, it } from 'vitest';
import { execa, type ResultPromise } from 'execa';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { HIVE_BIN, alive, startHive, type TestHive, type TreeNodeJson } from '../helpers/hive.js';
import { callWithDeadline, connectBus } from '../../protocol/sdk/bus.js';
import { pluginRunner } from '../helpers/paths.js';
import { waitFor } from '../helpers/wait.js';

type Node = TreeNodeJson & { remote?: boolean };

let hive: TestHive | undefined;
let tunnel: ResultPromise | undefined;
const remotes: ResultPromise[] = [];
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const r of remotes.splice(0)) r.kill('SIGKILL');
  if (tunnel?.pid) try { process.kill(-tunnel.pid, 'SIGKILL'); } catch { /* gone */ }
  tunnel = undefined;
  await hive?.stop();
  hive = undefined;
  for (const c of cleanups.splice(0)) await c();
});

/** The tunnel: a listening socket on "the other host" forwarding each connection to the bus socket. */
function openTunnel(listen: string, busSocket: string): ResultPromise {
  // Its own process group, so that killing it takes the per-connection children too, as the
  // forwarded channels end with ssh.
  return execa('socat', [`UNIX-LISTEN:${listen},fork,unlink-early,mode=600`, `UNIX-CONNECT:${busSocket}`], { detached: true, reject: false, stdio: 'ignore' });
}

async function closeTunnel(t: ResultPromise): Promise<void> {
  process.kill(-t.pid!, 'SIGKILL');
  await t;
}

/** The node the operator starts on the other host: the built-in ping, with a node's environment. */
function startRemote(env: Record<string, string>, log: Record<string, unknown>[]): ResultPromise {
  const p = execa(process.execPath, [pluginRunner, 'ping'], {
    extendEnv: false,
    env: { PATH: process.env.PATH!, HIVE_LOG_FORMAT: 'json', HIVE_LOG_LEVEL: 'debug', ...env },
    stdin: 'ignore', stdout: 'ignore', stderr: 'pipe', reject: false, buffer: false,
  });
  remotes.push(p);
  let buf = '';
  p.stderr!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl;
    while ((nl = buf.indexOf('\n')) !== -1) {
      const l = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try { log.push(JSON.parse(l) as Record<string, unknown>); } catch { log.push({ msg: l }); }
    }
  });
  return p;
}

/** Waits until `far` and `echo` look as `want` says in `hive tree --json`; says how they looked at the deadline. */
async function waitTree(h: TestHive, want: (far: Node, echo: Node) => boolean, what: string, timeout = 30_000): Promise<void> {
  let last = '';
  await waitFor(async () => {
    const nodes = (await h.tree()) as Node[];
    const far = nodes.find((n) => n.name === 'far')!;
    const echo = nodes.find((n) => n.name === 'echo')!;
    last = JSON.stringify([far, echo].map((n) => ({ name: n.name, state: n.state, parent: n.parent })));
    return want(far, echo);
  }, { timeout, interval: 100, what: () => `${what} (last seen: ${last})` });
}

async function answers(h: TestHive, text: string, expected: string): Promise<void> {
  const mark = h.stdout.length;
  h.say(text);
  await h.expectOutput(expected, { since: mark, timeout: 15_000 });
}

describe('a remote node through a forwarded bus socket', () => {
  it('attaches, is cut off when the tunnel drops (its child re-parented), and comes back on its own', { timeout: 120_000 }, async () => {
    hive = await startHive({
      networks: { console: { type: 'terminal', quiet_ms: 200 } },
      plugins: [{ name: 'far', remote: true }, { name: 'echo', use: 'echo', parent: 'far' }],
    });
    // Before the remote node is there, its child hangs under the mouth and answers.
    expect(await hive.node('far')).toMatchObject({ state: 'stopped', pid: null, remote: true });
    expect((await hive.node('echo')).parent).toBe('mouth');
    expect((await hive.cli('tree', '--config', hive.configFile)).stdout).toMatch(/^ +far +remote +stopped +remote +/m);

    // What the operator copies from the hive's host: `hive remote far` (operator only) gives the
    // node's own socket (its proxy's, in the runtime dir) and its credential.
    const access = await hive.cli('remote', 'far', '--json', '--config', hive.configFile);
    expect(access.exitCode, access.stderr).toBe(0);
    const remoteAccess = JSON.parse(access.stdout) as { socket: string; credential: string; parent: string };
    const runtime = JSON.parse(await readFile(join(hive.dir, 'run', `${hive.instance}.json`), 'utf8')) as { bus_address: string; token: string };
    expect(remoteAccess.socket).toContain(join(hive.dir, 'run'));
    expect(runtime.bus_address).not.toContain(remoteAccess.socket);
    expect(remoteAccess.credential).not.toBe(runtime.token);
    expect(remoteAccess.parent).toBe(`org.hive.${hive.instance}.mouth`);
    const busSocket = remoteAccess.socket;
    const other = join(hive.dir, 'other-host');
    await mkdir(other, { mode: 0o700 });
    const fwd = join(other, 'hive.sock');
    tunnel = openTunnel(fwd, busSocket);
    await waitFor(() => stat(fwd).then((s) => s.isSocket()), { timeout: 10_000, what: 'the tunnel socket' });
    const env = {
      HIVE_BUS_ADDRESS: `unix:path=${fwd}`,
      HIVE_NODE: 'far',
      HIVE_PARENT: `org.hive.${hive.instance}.mouth`,
      HIVE_TOKEN: remoteAccess.credential,
      HIVE_INSTANCE: hive.instance,
      HIVE_VOUCH: '1',
    };

    // Through the forwarded socket, the supervisor is out of reach: only Vouch passes its proxy.
    const prying = await connectBus(`unix:path=${fwd}`);
    try {
      for (const member of ['Load', 'Shutdown', 'Authenticate']) {
        const err = await callWithDeadline(prying, { destination: `org.hive.${hive.instance}.Supervisor`, path: '/org/hive/Supervisor', interface: 'org.hive.Supervisor1', member, signature: member === 'Shutdown' ? '' : 's', body: member === 'Shutdown' ? [] : ['name: x\nexec: [/bin/true]'] }, 5000).then(() => 'accepted', (e: Error) => e.message);
        expect(err, member).toMatch(/AccessDenied/);
      }
    } finally {
      prying.disconnect();
    }

    // A node with a token of another hive (or of an earlier `hive up`) is seen but gets no children.
    const staleLog: Record<string, unknown>[] = [];
    const stale = startRemote({ ...env, HIVE_TOKEN: 'not-the-token-of-this-hive' }, staleLog);
    await waitTree(hive, (far) => far.state === 'failed', 'far failed: wrong token');
    await hive.waitForLog((l) => l.child === 'far' && String(l.msg).startsWith('remote node does not hold this hive\'s token'));
    expect((await hive.node('echo')).parent).toBe('mouth');
    await answers(hive, '!echo zero', 'zero');
    stale.kill('SIGTERM');
    expect((await stale).exitCode, JSON.stringify(staleLog.slice(-5))).toBe(0);
    await waitTree(hive, (far) => far.state === 'stopped', 'far gone');

    // (1) With the right token it attaches: running (no pid: not the hive's process), echo under it.
    const log: Record<string, unknown>[] = [];
    const remote = startRemote({ ...env, HIVE_RECONNECT: '1' }, log);
    await waitTree(hive, (far, echo) => far.state === 'running' && echo.parent === 'far', 'far running with echo under it');
    expect(await hive.node('far')).toMatchObject({ pid: null, remote: true, kind: 'responder', parent: 'mouth' });
    await answers(hive, '!ping', 'pong');
    // echo answers through far: far passed the line down and the answer up.
    const before = (await hive.node('far')).counters.out ?? 0;
    await answers(hive, '!echo one', 'one');
    expect((await hive.node('far')).counters.out ?? 0).toBeGreaterThanOrEqual(before + 2);

    // The supervisor cannot start or stop a node it did not start: refused, exit 4.
    for (const cmd of ['stop', 'start', 'restart']) {
      const r = await hive.cli(cmd, 'far', '--config', hive.configFile);
      expect(r.exitCode, `hive ${cmd} far: ${r.stderr}`).toBe(4);
      expect(r.stderr).toContain(`'far' is a remote node (remote: true): the supervisor did not start it and cannot ${cmd} it`);
    }
    expect((await hive.node('far')).state).toBe('running');

    // (2) The tunnel drops: the hive sees far vanish and moves echo up to the mouth; echo answers.
    const comebacks = (await hive.node('far')).restarts;
    await closeTunnel(tunnel);
    await waitTree(hive, (far, echo) => far.state === 'stopped' && echo.parent === 'mouth', 'far stopped, echo under the mouth');
    await answers(hive, '!echo two', 'two');
    // The remote side lost its bus and keeps trying, and failing while the tunnel is down: it does
    // not exit (HIVE_RECONNECT).
    await waitFor(() => log.find((l) => l.msg === 'lost the connection to the bus'), { timeout: 15_000, what: 'the remote node losing its bus' });
    await waitFor(() => log.find((l) => l.msg === 'the node could not start (is the bus reachable, the name free?)'), { timeout: 30_000, what: 'a failed attempt to reach the bus' });
    await waitFor(() => log.filter((l) => l.msg === 'the node ended; starting it again' && l.code === 1).length >= 2, { timeout: 30_000, what: 'the remote keeper trying again' });
    expect(alive(remote.pid!)).toBe(true);

    // (3) The tunnel is back: the remote node re-attaches on its own and echo moves back under it.
    tunnel = openTunnel(fwd, busSocket);
    await waitTree(hive, (far, echo) => far.state === 'running' && echo.parent === 'far', 'far back with echo under it', 45_000);
    expect((await hive.node('far')).restarts).toBe(comebacks + 1);
    await answers(hive, '!ping', 'pong');
    await answers(hive, '!echo three', 'three');

    // Unloaded, it leaves the tree (its child moves up) but runs on; loaded again, the supervisor
    // finds it already on the bus.
    const unload = await hive.cli('unload', 'far', '--config', hive.configFile);
    expect(unload.exitCode, unload.stderr).toBe(0);
    await waitFor(async () => { const nodes = await hive!.tree(); return !nodes.some((n) => n.name === 'far') && nodes.find((n) => n.name === 'echo')?.parent === 'mouth'; }, { timeout: 30_000, what: 'far unloaded, echo under the mouth' });
    expect(alive(remote.pid!)).toBe(true);
    const spec = join(hive.dir, 'far.yaml');
    await writeFile(spec, stringify({ name: 'far', remote: true }));
    const load = await hive.cli('load', spec, '--config', hive.configFile);
    expect(load.exitCode, load.stderr).toBe(0);
    await waitFor(async () => (await hive!.node('far')).state === 'running', { timeout: 30_000, what: 'far loaded again and seen on the bus' });
    await answers(hive, '!ping', 'pong');

    // Stopped where it runs as systemd stops a unit: SIGTERM to every process of it, the keeper and
    // the node it runs. The node stops once (no "second signal" exit), cleanly; echo moves up again.
    const children = (await readFile(`/proc/${remote.pid}/task/${remote.pid}/children`, 'utf8')).trim().split(/\s+/).map(Number);
    expect(children).toHaveLength(1);
    process.kill(children[0]!, 'SIGTERM');
    remote.kill('SIGTERM');
    expect((await remote).exitCode, JSON.stringify(log.slice(-8))).toBe(0);
    expect(log.filter((l) => l.msg === 'node stopped')).toHaveLength(1);
    expect(alive(children[0]!)).toBe(false);
    await waitTree(hive, (far, echo) => far.state === 'stopped' && echo.parent === 'mouth', 'far gone, echo under the mouth');
    await answers(hive, '!echo four', 'four');
  });

  it('HIVE_TOKEN_FILE keeps the hive token (made mode 600 when missing; refused when others may read it)', { timeout: 60_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hive-token-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const tokenFile = join(dir, 'token');
    process.env.HIVE_TOKEN_FILE = tokenFile;
    try {
      hive = await startHive({ networks: { console: { type: 'terminal', quiet_ms: 200 } }, plugins: [{ name: 'far', remote: true }] });
    } finally {
      delete process.env.HIVE_TOKEN_FILE;
    }
    const st = await stat(tokenFile);
    expect(st.mode & 0o777).toBe(0o600);
    const runtime = JSON.parse(await readFile(join(hive.dir, 'run', `${hive.instance}.json`), 'utf8')) as { token: string };
    expect(runtime.token).toBe((await readFile(tokenFile, 'utf8')).trim());
    await hive.stop();
    hive = undefined;

    // Readable by others: `hive up` refuses to start (exit 2) and says what to do.
    await writeFile(tokenFile, 'x'.repeat(48) + '\n');
    await chmod(tokenFile, 0o644);
    const config = join(dir, 'hive.yaml');
    await writeFile(config, stringify({ instance: `tok${process.pid}`, bus: 'private', state_dir: join(dir, 'state'), networks: { console: { type: 'terminal' } } }));
    const r = await execa(HIVE_BIN, ['up', '--config', config], { env: { HIVE_RUNTIME_DIR: join(dir, 'run'), HIVE_TOKEN_FILE: tokenFile }, reject: false, timeout: 30_000, stdin: 'ignore' });
    expect(r.exitCode, String(r.stderr)).toBe(2);
    expect(String(r.stderr)).toContain(`HIVE_TOKEN_FILE ${tokenFile}: others may read it (mode 644); chmod 600 it`);
  });
});
