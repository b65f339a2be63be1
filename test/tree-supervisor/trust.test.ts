// Plugins you did not write (issue 16), through a real `hive up`: exec plugins run filtered by
// default (each behind its own xdg-dbus-proxy) and still answer; a hostile plugin run filtered
// tries to take the hive and is refused each time, the hive answering on; a sandboxed one cannot
// read another node's state nor open a TCP socket, where the same plugin unsandboxed can (the
// control, so that each check can fail).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import { callWithDeadline, connectBus } from '../../protocol/sdk/bus.js';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { startHive, alive, type TestHive } from '../helpers/hive.js';
import { fixture, ROOT } from '../helpers/paths.js';
import { waitFor } from '../helpers/wait.js';

const TERMINAL = { console: { type: 'terminal', quiet_ms: 200 } };
const DICE = join(ROOT, 'plugins/examples/typescript');
const PYTHON_RESPONDER = join(ROOT, 'plugins/examples/python/responder.py');

let hive: TestHive | undefined;
let server: Server;
let port: number;
beforeAll(async () => {
  server = createServer((c) => c.end('hello\n'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});
afterAll(() => { server?.close(); });
afterEach(async () => { await hive?.stop(); hive = undefined; });

async function ask(h: TestHive, text: string, expected: string | RegExp, timeout = 15_000): Promise<string> {
  const since = h.stdout.length;
  h.say(text);
  return h.expectOutput(expected, { since, timeout });
}

type Trusted = { name: string; trust?: string; state: string; pid: number | null; unique_name: string | null };

describe('trust levels in a real hive', () => {
  it('the TypeScript and Python examples run filtered by default and answer; built-ins stay direct; hive tree shows it', { timeout: 120_000 }, async () => {
    hive = await startHive({
      networks: TERMINAL,
      plugins: [
        { name: 'ping', use: 'ping' },
        { name: 'dice', exec: ['node', '../../../dist/plugins/run.js', '../../../dist/plugins/examples/typescript/dice.js'], cwd: DICE, config: { max_dice: 5 } },
        { name: 'pyresp', exec: ['/usr/bin/python3', PYTHON_RESPONDER] },
        { name: 'echo', use: 'echo', trust: 'filtered' },
      ],
    });
    const nodes = (await hive.tree()) as Trusted[];
    const trust = Object.fromEntries(nodes.map((n) => [n.name, n.trust]));
    expect(trust).toEqual({ mouth: 'direct', ping: 'direct', dice: 'filtered', pyresp: 'filtered', echo: 'filtered' });
    expect((await hive.cli('tree', '--config', hive.configFile)).stdout).toMatch(/^ {2}dice\s+\S+\s+running\s+\d+\s+filtered\s/m);

    await ask(hive, '!roll 2d6', /^you rolled \d+ \(\d \+ \d\)$/);
    await ask(hive, '!pyping', 'pong from python');
    await ask(hive, '!echo through the filter', 'through the filter');
    await ask(hive, '!ping', 'pong');

    // kill -9: restarted with a new proxy of its own, and answers again.
    const dice = nodes.find((n) => n.name === 'dice')!;
    process.kill(dice.pid!, 'SIGKILL');
    await waitFor(async () => { const n = await hive!.node('dice'); return n.state === 'running' && n.pid !== dice.pid; }, { timeout: 30_000, what: 'dice restarted' });
    await ask(hive, '!roll 1d6', /^you rolled \d+$/);
  });

  it('a hostile plugin run filtered is refused every way it tries, and the hive keeps answering; sandboxed, it cannot read another node\'s state nor open a TCP socket', { timeout: 120_000 }, async () => {
    const marker = join(ROOT, 'dist', `hostile-marker-${process.pid}`);
    const attacker = (name: string, extra: Record<string, unknown> = {}) => ({
      name, exec: ['node', fixture('hostile')], config: { marker, victim: 'ping', steal: '../ping/secret.txt', port }, ...extra,
    });
    hive = await startHive({
      networks: TERMINAL,
      plugins: [{ name: 'ping', use: 'ping' }, attacker('hostile'), attacker('jail', { sandbox: true })],
    });
    const before = (await hive.tree()) as Trusted[];
    expect(before.find((n) => n.name === 'jail')?.trust).toBe('sandboxed');
    expect(before.find((n) => n.name === 'hostile')?.trust).toBe('filtered');
    await writeFile(join(hive.dir, 'state', 'ping', 'secret.txt'), 'ping\'s secret');
    const pingBefore = before.find((n) => n.name === 'ping')!;

    const results = async (node: string) => {
      await hive!.waitForLog((l) => l.node === node && l.msg === 'attacks done', 30_000);
      return Object.fromEntries(hive!.logs.filter((l) => l.node === node && l.msg === 'attack').map((l) => [l.attack, l.result]));
    };
    await ask(hive, '!attack', /^attacked: hostile$/, 30_000);
    const filtered = await results('hostile');
    expect(filtered).toMatchObject({
      // The supervisor is there for Vouch only: its proxy refuses every other member.
      load: expect.stringMatching(/AccessDenied/),
      authenticate: expect.stringMatching(/AccessDenied/),
      stop: expect.stringMatching(/AccessDenied/),
      shutdown: expect.stringMatching(/AccessDenied/),
      own: expect.stringMatching(/AccessDenied|ServiceUnknown/),
      monitor: expect.stringMatching(/AccessDenied/),
      // Filtered is not sandboxed: the same user's files and the network are its (the control).
      read: 'ok',
      tcp: 'ok',
    });
    await ask(hive, '!attack', /^attacked: jail$/, 30_000);
    const sandboxed = await results('jail');
    expect(sandboxed).toMatchObject({ load: expect.stringMatching(/AccessDenied/), own: expect.stringMatching(/AccessDenied|ServiceUnknown/), monitor: expect.stringMatching(/AccessDenied/), read: expect.stringMatching(/ENOENT/) });
    expect(sandboxed.tcp).toMatch(/ENETUNREACH|ECONNREFUSED|EACCES|EPERM/);

    // Nothing changed: Load's command never ran, ping kept its name and its process, the hive answers.
    expect(existsSync(marker)).toBe(false);
    const ping = (await hive.node('ping')) as Trusted;
    expect(ping).toMatchObject({ state: 'running', pid: pingBefore.pid, unique_name: pingBefore.unique_name });
    expect(alive(hive.proc.pid!)).toBe(true);
    await ask(hive, '!ping', 'pong');
    await ask(hive, '!hostile', /^still here: /);
  });

  it('a sandboxed node reaches no unix socket of the user\'s ($XDG_RUNTIME_DIR, the hive\'s runtime dir) and sees no operator variable; unsandboxed it does (the control)', { timeout: 90_000 }, async () => {
    // A fake $XDG_RUNTIME_DIR inside Hive's own folder, which a sandbox shows read-only: only hiding it keeps its sockets away.
    const xdg = join(ROOT, 'dist', `xdg-${process.pid}`);
    await mkdir(xdg, { recursive: true, mode: 0o700 });
    const listen = async (path: string) => {
      const s = createServer((c) => c.end());
      await new Promise<void>((r) => s.listen(path, r));
      return s;
    };
    const userSocket = await listen(join(xdg, 'agent.sock'));
    const saved = { XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR };
    process.env.XDG_RUNTIME_DIR = xdg;
    process.env.OPERATOR_SECRET_FOR_TEST = 'the operator\'s';
    const sockets: Server[] = [userSocket];
    try {
      // The hive's runtime dir is known once it runs: its socket's path is read by the fixture at the attack.
      const list = join(ROOT, 'dist', `sockets-${process.pid}.txt`);
      const probe = (name: string, extra: Record<string, unknown> = {}) => ({ name, exec: ['node', fixture('hostile')], config: { sockets: [join(xdg, 'agent.sock')], sockets_file: list, env_var: 'OPERATOR_SECRET_FOR_TEST' }, ...extra });
      hive = await startHive({ networks: TERMINAL, plugins: [probe('free'), probe('jail', { sandbox: true })] });
      const runSocket = join(hive.dir, 'run', 'probe.sock');
      sockets.push(await listen(runSocket));
      await writeFile(list, runSocket + '\n');
      const results = async (node: string) => {
        await hive!.waitForLog((l) => l.node === node && l.msg === 'attacks done', 30_000);
        return Object.fromEntries(hive!.logs.filter((l) => l.node === node && l.msg === 'attack').map((l) => [l.attack, l.result]));
      };
      await ask(hive, '!attack', /^attacked: (free|jail)$/, 30_000);
      await ask(hive, '!attack', /^attacked: (free|jail)$/, 30_000);
      expect(await results('free')).toMatchObject({ 'unix:0': 'ok', 'unix:1': 'ok', env: 'ok' });
      const jailed = await results('jail');
      expect(jailed['unix:0']).toMatch(/ENOENT|ECONNREFUSED|EACCES/);
      expect(jailed['unix:1']).toMatch(/ENOENT|ECONNREFUSED|EACCES/);
      expect(jailed.env).toBe('unset');
      await ask(hive, '!hostile', /^still here: /);
    } finally {
      for (const s of sockets) s.close();
      if (saved.XDG_RUNTIME_DIR === undefined) delete process.env.XDG_RUNTIME_DIR; else process.env.XDG_RUNTIME_DIR = saved.XDG_RUNTIME_DIR;
      delete process.env.OPERATOR_SECRET_FOR_TEST;
      await rm(xdg, { recursive: true, force: true });
      await rm(join(ROOT, 'dist', `sockets-${process.pid}.txt`), { force: true });
    }
  });

  it('a filtered node above a stopped built-in takes its name: not taken as it (impostor, counted), and CheckParent answers only for the real ancestors', { timeout: 90_000 }, async () => {
    hive = await startHive({
      networks: TERMINAL,
      plugins: [
        { name: 'boss', exec: ['node', fixture('hostile')], config: { victim: 'ping' } },
        { name: 'ping', use: 'ping', parent: 'boss' },
        { name: 'echo', use: 'echo' },
      ],
    });
    expect((await hive.cli('stop', 'ping', '--config', hive.configFile)).exitCode).toBe(0);
    await ask(hive, '!attack', /^attacked: boss$/, 30_000);
    await hive.waitForLog((l) => l.node === 'boss' && l.msg === 'attacks done', 30_000);
    // Its proxy lets it own a descendant's name (it may hold a child's without a connection): the supervisor is what refuses.
    expect(hive.logs.find((l) => l.node === 'boss' && l.attack === 'own')?.result).toBe('ok');
    const seen = await hive.waitForLog((l) => l.child === 'ping' && typeof l.msg === 'string' && l.msg.startsWith('impostor'), 10_000);
    expect((await hive.node('ping')).state).toBe('stopped');
    expect(hive.logs.some((l) => l.msg === 'node back' && l.child === 'ping')).toBe(false);

    const info = JSON.parse(await readFile(join(hive.dir, 'run', `${hive.instance}.json`), 'utf8')) as { bus_address: string; supervisor: string };
    const bus = await connectBus(info.bus_address);
    try {
      const sv = (member: string, signature: string, body: unknown[]) => callWithDeadline(bus, { destination: info.supervisor, path: '/org/hive/Supervisor', interface: 'org.hive.Supervisor1', member, signature, body }, 5000);
      const checkParent = async (child: string, parent: string) => (await sv('CheckParent', 'ss', [child, parent])).body[0] as boolean;
      const unique = async (n: string) => (await hive!.node(n)).unique_name!;
      expect(await checkParent('ping', await unique('boss'))).toBe(true);
      expect(await checkParent('ping', await unique('mouth'))).toBe(true);
      expect(await checkParent('ping', String(seen.owner))).toBe(false);
      expect(await checkParent('ping', await unique('echo'))).toBe(false);
      expect(await checkParent('boss', await unique('echo'))).toBe(false);
      const counters = (await callWithDeadline(bus, { destination: info.supervisor, path: '/org/hive/Supervisor', interface: 'org.freedesktop.DBus.Properties', member: 'Get', signature: 'ss', body: ['org.hive.Supervisor1', 'Counters'] }, 5000)).body[0] as { value: Record<string, bigint> };
      expect(Number(counters.value.impostor)).toBeGreaterThanOrEqual(1);
      expect(Number(counters.value.parent_refused)).toBeGreaterThanOrEqual(3);
    } finally {
      bus.disconnect();
    }
    // The real ping comes back as itself.
    const since = hive.logs.length;
    expect((await hive.cli('start', 'ping', '--config', hive.configFile)).exitCode).toBe(0);
    await waitFor(() => hive!.logs.slice(since).some((l) => l.node === 'ping' && l.msg === 'attached to parent'), { timeout: 10_000, what: 'ping attached' });
    await new Promise((r) => setTimeout(r, 500));
    await ask(hive, '!ping', 'pong');
  });

  it('a filtered node restarted twice at once ends with exactly one proxy, and answers', { timeout: 90_000 }, async () => {
    hive = await startHive({ networks: TERMINAL, plugins: [{ name: 'free', exec: ['node', fixture('hostile')] }] });
    await ask(hive, '!hostile', 'still here: free');
    const [a, b] = await Promise.all([hive.cli('restart', 'free', '--config', hive.configFile), hive.cli('restart', 'free', '--config', hive.configFile)]);
    expect([a.exitCode, b.exitCode]).toEqual([0, 0]);
    await waitFor(async () => (await hive!.node('free')).state === 'running', { timeout: 20_000, what: 'free running' });
    await new Promise((r) => setTimeout(r, 1000));
    const proxies = (await execa('pgrep', ['-af', 'xdg-dbus-proxy'], { reject: false })).stdout.split('\n').filter((l) => l.includes(`${hive!.instance}.nodes/free/`) && !l.includes('setpriv'));
    expect(proxies).toHaveLength(1);
    await ask(hive, '!hostile', 'still here: free');
  });

  it('a sandboxed node is asked to stop (SIGTERM to the node inside bwrap, not to bwrap) and ends cleanly', { timeout: 60_000 }, async () => {
    hive = await startHive({ networks: TERMINAL, plugins: [{ name: 'ping', use: 'ping', trust: 'filtered', sandbox: true }] });
    await ask(hive, '!ping', 'pong');
    const stopped = (l: Record<string, unknown>) => l.msg === 'node stopped' && (l.node === 'ping' || l.child === 'ping');
    expect(hive.logs.some(stopped)).toBe(false);
    expect((await hive.cli('stop', 'ping', '--config', hive.configFile)).exitCode).toBe(0);
    // Its own shutdown ran: it logged it (SIGTERM to bwrap ends the namespace and kills it mid-way, silently).
    await hive.waitForLog(stopped, 10_000);
    expect((await hive.node('ping')).state).toBe('stopped');
  });

  it('the three examples (TypeScript, Python, shell) run sandboxed without a change and answer, also after kill -9', { timeout: 120_000 }, async () => {
    hive = await startHive({
      networks: TERMINAL,
      plugins: [
        { name: 'dice', exec: ['node', '../../../dist/plugins/run.js', '../../../dist/plugins/examples/typescript/dice.js'], cwd: DICE, sandbox: true },
        { name: 'pyresp', exec: ['/usr/bin/python3', PYTHON_RESPONDER], sandbox: true },
        { name: 'shping', exec: ['bash', join(ROOT, 'plugins/examples/shell/responder.sh')], sandbox: true },
      ],
    });
    const nodes = (await hive.tree()) as Trusted[];
    expect(Object.fromEntries(nodes.map((n) => [n.name, n.trust]))).toEqual({ mouth: 'direct', dice: 'sandboxed', pyresp: 'sandboxed', shping: 'sandboxed' });
    await ask(hive, '!roll 2d6', /^you rolled \d+ \(\d \+ \d\)$/);
    await ask(hive, '!pyping', 'pong from python');
    await ask(hive, '!shping boxed', 'shpong boxed');
    const py = nodes.find((n) => n.name === 'pyresp')!;
    process.kill(py.pid!, 'SIGKILL');
    await waitFor(async () => { const n = await hive!.node('pyresp'); return n.state === 'running' && n.pid !== py.pid; }, { timeout: 30_000, what: 'pyresp restarted' });
    await ask(hive, '!pyping', 'pong from python');
  });
});
