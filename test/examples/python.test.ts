// Plugins in Python (plugins/examples/python/: python3-dbus-next, Debian's /usr/bin/python3, nothing
// of Hive's TypeScript) in a real hive on the terminal network: they answer through the mouth, are
// loaded at runtime, killed and restarted, re-parented, and a Python filter carries children.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa, type ResultPromise } from 'execa';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startHive, alive, type TestHive } from '../helpers/hive.js';
import { ROOT } from '../helpers/paths.js';
import { waitFor } from '../helpers/wait.js';
import { waitForNodeLog } from '../mouth/util.js';
import { callWithDeadline, connectBus, type MessageBus } from '../../protocol/sdk/bus.js';
import { NODE_INTERFACE, NODE_PATH } from '../../protocol/names.js';

const PYTHON = '/usr/bin/python3';
const DIR = join(ROOT, 'plugins/examples/python');
const RESPONDER = join(DIR, 'responder.py');
const FILTER = join(DIR, 'filter.py');
const TERMINAL = { console: { type: 'terminal', quiet_ms: 200 } };

// A missing library is a failure that says how to install it, never a skip.
beforeAll(async () => {
  const r = await execa(PYTHON, ['-c', 'import dbus_next'], { reject: false });
  if (r.exitCode !== 0) {
    throw new Error(`python3-dbus-next is not installed for ${PYTHON}: run \`sudo apt-get install -y python3-dbus-next\` (or scripts/install-system-deps)\n${String(r.stderr)}`);
  }
});

/** A D-Bus connection to a running hive's bus, found through its runtime file. */
async function busOf(hive: TestHive): Promise<MessageBus> {
  const info = JSON.parse(await readFile(join(hive.env.HIVE_RUNTIME_DIR!, `${hive.instance}.json`), 'utf8')) as { bus_address: string };
  return connectBus(info.bus_address);
}

/** A node's org.hive.Node1 properties, unwrapped from their variants. */
async function props(bus: MessageBus, hive: TestHive, node: string): Promise<Record<string, unknown>> {
  const r = await callWithDeadline(bus, {
    destination: `org.hive.${hive.instance}.${node}`, path: NODE_PATH, interface: 'org.freedesktop.DBus.Properties', member: 'GetAll', signature: 's', body: [NODE_INTERFACE],
  }, 5000);
  return Object.fromEntries(Object.entries(r.body[0] as Record<string, { value: unknown }>).map(([k, v]) => [k, v.value]));
}

/** Says `text` and waits for the answer `expected` among the lines printed after it. */
async function ask(hive: TestHive, text: string, expected: string, timeout = 15_000): Promise<void> {
  const since = hive.stdout.length;
  hive.say(text);
  await hive.expectOutput(expected, { since, timeout });
}

/** Waits until the supervisor has restarted `node` in a new process and it owns its name again. */
async function restarted(hive: TestHive, node: string, oldPid: number) {
  return waitFor(async () => {
    const n = await hive.node(node);
    return n.state === 'running' && n.pid !== null && n.pid !== oldPid ? n : undefined;
  }, { timeout: 20_000, what: `${node} running again in a new process` });
}

/** Log lines at level error or fatal from the Python nodes: there should be none. */
function pythonErrors(hive: TestHive): Record<string, unknown>[] {
  return hive.logs.filter((l) => ['pyresp', 'pyfilter', 'guard'].includes(String(l.node)) && Number(l.level) >= 50);
}

describe('a responder in Python', () => {
  let hive: TestHive;
  let bus: MessageBus;
  beforeAll(async () => {
    // Only the TypeScript ping at first: the Python responder is loaded as in development.
    hive = await startHive({ networks: TERMINAL, plugins: [{ name: 'ping', use: 'ping' }] });
    bus = await busOf(hive);
  }, 60_000);
  afterAll(async () => {
    bus?.disconnect();
    await hive?.stop();
  });

  it('is loaded with `hive load --exec`, answers through the mouth, and publishes its properties', async () => {
    const load = await hive.cli('load', '--name', 'pyresp', '--exec', `${PYTHON} ${RESPONDER}`, '--config', hive.configFile);
    expect(load.exitCode, load.stderr).toBe(0);
    await waitForNodeLog(hive, 'pyresp', 'attached to parent', (l) => l.parent === `org.hive.${hive.instance}.mouth`, 20_000);

    await ask(hive, '!pyping', 'pong from python');
    await ask(hive, '!pyecho hello from the terminal', 'hello from the terminal');
    await ask(hive, 'hive: pyecho addressed by nick', 'addressed by nick');
    await ask(hive, '!pyecho', 'usage: pyecho TEXT');
    await ask(hive, '!ping', 'pong');

    const p = await props(bus, hive, 'pyresp');
    expect(p.Name).toBe('pyresp');
    expect(p.Kind).toBe('responder');
    expect(p.Parent).toBe(`org.hive.${hive.instance}.mouth`);
    expect(p.Children).toEqual([]);
    expect(p.Commands).toEqual([['pyping', 'pyping — answers pong from python'], ['pyecho', 'pyecho TEXT — says TEXT back']]);
    const counters = p.Counters as Record<string, bigint>;
    expect(Number(counters.in)).toBeGreaterThanOrEqual(5);
    expect(Number(counters.out)).toBeGreaterThanOrEqual(4);
    expect(Number(counters.errors)).toBe(0);
    expect(p.Details).toEqual({});
    const node = await hive.node('pyresp');
    expect(node).toMatchObject({ kind: 'responder', state: 'running', parent: 'mouth' });
  });

  it('replies carry hive.network, hive.reply_to, hive.origin and hive.path (seen with `hive tap`)', async () => {
    const tap: ResultPromise = execa(join(ROOT, 'bin/hive'), ['tap', '--json', '--config', hive.configFile], { env: hive.env, reject: false, buffer: false });
    const seen: Record<string, any>[] = []; // eslint-disable-line @typescript-eslint/no-explicit-any -- hive tap --json lines, read field by field
    let buf = '';
    tap.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) !== -1) { seen.push(JSON.parse(buf.slice(0, nl))); buf = buf.slice(nl + 1); }
    });
    try {
      // tap says nothing when it is ready: ask until it has seen an answer.
      const [asked, reply] = await waitFor(() => {
        for (const up of seen.filter((m) => m.direction === 'up' && m.from === 'pyresp')) {
          const down = seen.find((m) => m.direction === 'down' && m.meta['hive.id'] === up.meta['hive.reply_to']);
          if (down) return [down, up];
        }
        hive.say('!pyecho tapped');
        return undefined;
      }, { timeout: 20_000, interval: 500, what: 'a line and the reply of pyresp to it in hive tap' });
      expect(asked.from).toBe('mouth');
      expect(asked.lines).toEqual([':you!you@terminal PRIVMSG #console :!pyecho tapped']);
      expect(reply.to).toBe('mouth');
      expect(reply.lines).toEqual(['PRIVMSG #console :tapped']);
      expect(reply.meta).toMatchObject({ 'hive.network': 'console', 'hive.origin': 'pyresp', 'hive.path': ['pyresp'] });
      expect(reply.meta['hive.id']).toMatch(/^pyresp-[0-9a-f]+-\d+$/);
    } finally {
      tap.kill('SIGTERM');
      await tap;
    }
  });

  it('is restarted after kill -9 and answers what was said while it was gone (Replay)', async () => {
    const before = await hive.node('pyresp');
    // Stopped, it cannot read what the mouth emits; `!ping` answered proves the mouth passed both down.
    process.kill(before.pid!, 'SIGSTOP');
    hive.say('!pyecho said while it was down');
    await ask(hive, '!ping', 'pong');
    process.kill(before.pid!, 'SIGKILL');
    await restarted(hive, 'pyresp', before.pid!);
    await hive.expectOutput('said while it was down', { timeout: 15_000 });
    await waitForNodeLog(hive, 'pyresp', 'caught up from replay', (l) => l.network === 'console' && Number(l.count) >= 1, 15_000);
    await ask(hive, '!pyping', 'pong from python');
    // Answered once: the new run answered the replayed line, the old one never saw it.
    expect(hive.stdout.filter((l) => l === 'said while it was down')).toHaveLength(1);
  });

  it('on SIGTERM detaches from its parent first and exits 0', async () => {
    const before = await hive.node('pyresp');
    process.kill(before.pid!, 'SIGTERM');
    await waitForNodeLog(hive, 'mouth', 'child detached', (l) => l.child === 'pyresp', 15_000);
    await hive.waitForLog((l) => l.child === 'pyresp' && l.msg === 'node died; restarting' && l.why === 'exited with 0', 15_000);
    await restarted(hive, 'pyresp', before.pid!);
    await ask(hive, '!pyping', 'pong from python');
    expect(pythonErrors(hive)).toEqual([]);
  });
});

describe('a filter in Python, with a TypeScript and a Python child', () => {
  let hive: TestHive;
  let bus: MessageBus;
  const mouthBus = () => `org.hive.${hive.instance}.mouth`;
  const filterBus = () => `org.hive.${hive.instance}.pyfilter`;
  const parents = async () => Object.fromEntries((await hive.tree()).map((n) => [n.name, n.parent]));
  const childrenOf = async (node: string) => ((await props(bus, hive, node)).Children as [string, string][]).map(([n]) => n).sort();
  beforeAll(async () => {
    hive = await startHive({
      networks: TERMINAL,
      plugins: [
        { name: 'pyfilter', exec: [PYTHON, FILTER], config: { word: 'python' } },
        { name: 'echo', use: 'echo', parent: 'pyfilter' },
        { name: 'pyresp', exec: [PYTHON, RESPONDER], parent: 'pyfilter' },
      ],
    });
    bus = await busOf(hive);
    await waitFor(async () => (await childrenOf('pyfilter')).join() === 'echo,pyresp', { timeout: 20_000, what: 'echo and pyresp attached to pyfilter' });
  }, 60_000);
  afterAll(async () => {
    bus?.disconnect();
    await hive?.stop();
  });

  it('passes messages down changed, and its children\'s answers up', async () => {
    await ask(hive, '!echo hello python', 'hello PYTHON');
    await ask(hive, '!pyecho hi Python', 'hi PYTHON');
    await ask(hive, '!pyping', 'pong from python');
    expect(await parents()).toMatchObject({ pyfilter: 'mouth', echo: 'pyfilter', pyresp: 'pyfilter' });
    const p = await props(bus, hive, 'pyfilter');
    expect(p).toMatchObject({ Name: 'pyfilter', Kind: 'filter', Parent: mouthBus() });
    const details = Object.fromEntries(Object.entries(p.Details as Record<string, { value: unknown }>).map(([k, v]) => [k, v.value]));
    expect(Number(details.changed)).toBe(2);
    expect(Number(details.down)).toBeGreaterThanOrEqual(3);
    const byOrigin = details.up_by_origin as Record<string, bigint>;
    expect(Number(byOrigin.echo)).toBe(1);
    expect(Number(byOrigin.pyresp)).toBe(2);
    expect((await props(bus, hive, 'pyresp')).Parent).toBe(filterBus());
  });

  it('on SIGTERM emits Reparent: its children move to the mouth and keep answering; started again, they come back', async () => {
    const echoPid = (await hive.node('echo')).pid;
    const stop = await hive.cli('stop', 'pyfilter', '--config', hive.configFile);
    expect(stop.exitCode, stop.stderr).toBe(0);
    // The TypeScript child heard the Python filter's Reparent signal, naming the filter's parent.
    await waitForNodeLog(hive, 'echo', 'parent asked us to re-parent', (l) => l.to === mouthBus(), 15_000);
    await waitForNodeLog(hive, 'pyresp', 'parent asked us to re-parent', (l) => l.to === mouthBus(), 15_000);
    await waitFor(async () => (await childrenOf('mouth')).join() === 'echo,pyresp', { timeout: 15_000, what: 'echo and pyresp attached to the mouth' });
    expect(await parents()).toMatchObject({ echo: 'mouth', pyresp: 'mouth' });
    expect((await props(bus, hive, 'pyresp')).Parent).toBe(mouthBus());
    await ask(hive, '!echo hello python', 'hello python');
    await ask(hive, '!pyecho hi python', 'hi python');
    expect((await hive.node('echo')).pid).toBe(echoPid);

    const start = await hive.cli('start', 'pyfilter', '--config', hive.configFile);
    expect(start.exitCode, start.stderr).toBe(0);
    await waitFor(async () => (await childrenOf('pyfilter')).join() === 'echo,pyresp', { timeout: 20_000, what: 'echo and pyresp back under pyfilter' });
    expect(await parents()).toMatchObject({ echo: 'pyfilter', pyresp: 'pyfilter' });
    await ask(hive, '!echo back python', 'back PYTHON');
    await ask(hive, '!pyecho back python', 'back PYTHON');
  });

  it('killed with kill -9: the supervisor moves its children to the mouth, restarts it and moves them back', async () => {
    const before = await hive.node('pyfilter');
    const since = hive.logs.length;
    process.kill(before.pid!, 'SIGKILL');
    await restarted(hive, 'pyfilter', before.pid!);
    const moved = (child: string, to: string) => hive.logs.slice(since).some((l) => l.msg === 'node re-parented' && l.child === child && l.to === to);
    await waitFor(() => ['echo', 'pyresp'].every((c) => moved(c, 'mouth') && moved(c, 'pyfilter')), { timeout: 20_000, what: 'echo and pyresp moved to the mouth and back' });
    // The Python responder served SetParent for both moves.
    expect(hive.logs.slice(since).filter((l) => l.node === 'pyresp' && l.msg === 'SetParent').map((l) => l.to)).toEqual([mouthBus(), filterBus()]);
    await waitFor(async () => (await childrenOf('pyfilter')).join() === 'echo,pyresp', { timeout: 20_000, what: 'echo and pyresp attached to the new pyfilter' });
    await ask(hive, '!echo again python', 'again PYTHON');
    await ask(hive, '!pyecho again python', 'again PYTHON');
    expect(alive(before.pid!)).toBe(false);
    expect(pythonErrors(hive)).toEqual([]);
  });
});

describe('a Python node under a parent that holds (on_death: hold)', () => {
  let hive: TestHive;
  beforeAll(async () => {
    hive = await startHive({
      networks: TERMINAL,
      plugins: [
        { name: 'guard', exec: [PYTHON, FILTER], on_death: 'hold' },
        { name: 'pyresp', exec: [PYTHON, RESPONDER], parent: 'guard' },
      ],
    });
    await waitForNodeLog(hive, 'pyresp', 'attached to parent', (l) => l.parent === `org.hive.${hive.instance}.guard`, 20_000);
  }, 60_000);
  afterAll(async () => {
    await hive?.stop();
  });

  it('waits for its parent and attaches again by itself when the parent\'s name has a new owner', async () => {
    await ask(hive, '!pyecho via python', 'via PYTHON');
    const guardBus = `org.hive.${hive.instance}.guard`;
    const attachedSince = (since: number) => hive.logs.slice(since).filter((l) => l.node === 'pyresp' && l.msg === 'attached to parent' && l.parent === guardBus).length;

    let since = hive.logs.length;
    let before = await hive.node('guard');
    process.kill(before.pid!, 'SIGKILL');
    await waitForNodeLog(hive, 'pyresp', 'parent lost', (l) => l.parent === guardBus, 15_000);
    await restarted(hive, 'guard', before.pid!);
    await waitFor(() => attachedSince(since) === 1, { timeout: 15_000, what: 'pyresp attached to the restarted guard' });
    await ask(hive, '!pyecho again python', 'again PYTHON');

    // SIGTERM: a holding filter's Reparent names no parent; the child waits instead of moving up.
    since = hive.logs.length;
    before = await hive.node('guard');
    process.kill(before.pid!, 'SIGTERM');
    await waitForNodeLog(hive, 'pyresp', 'parent going away; waiting for it', () => true, 15_000);
    await restarted(hive, 'guard', before.pid!);
    await waitFor(() => attachedSince(since) === 1, { timeout: 15_000, what: 'pyresp attached to the guard started again' });
    await ask(hive, '!pyecho once more python', 'once more PYTHON');
    // Nobody moved it: it followed the name.
    expect(hive.logs.filter((l) => l.node === 'pyresp' && l.msg === 'SetParent')).toEqual([]);
    expect(pythonErrors(hive)).toEqual([]);
  });
});

describe('exit code 2', () => {
  const env = { HIVE_NODE: 'pyresp', HIVE_TOKEN: 'secret', HIVE_BUS_ADDRESS: 'unix:path=/nonexistent/bus', HIVE_LOG_FORMAT: 'json' };
  it('for a missing HIVE_TOKEN, a config the filter refuses, or a python3 without python3-dbus-next, named on stderr', async () => {
    const noToken = await execa(PYTHON, [RESPONDER], { env: { ...env, HIVE_TOKEN: '' }, extendEnv: false, reject: false, timeout: 20_000 });
    expect(noToken.exitCode).toBe(2);
    expect(String(noToken.stderr)).toContain('HIVE_TOKEN');
    const badWord = await execa(PYTHON, [FILTER], { env: { ...env, HIVE_CONFIG: '{"word": 5}' }, extendEnv: false, reject: false, timeout: 20_000 });
    expect(badWord.exitCode).toBe(2);
    expect(String(badWord.stderr)).toContain('config word');
    const notObject = await execa(PYTHON, [FILTER], { env: { ...env, HIVE_CONFIG: '[1]' }, extendEnv: false, reject: false, timeout: 20_000 });
    expect(notObject.exitCode).toBe(2);
    expect(String(notObject.stderr)).toContain('HIVE_CONFIG');
    // Without Debian's dist-packages on the path (as with a pyenv or virtualenv python3): exit 2, saying why.
    const noLibrary = await execa(PYTHON, ['-S', RESPONDER], { env, extendEnv: false, reject: false, timeout: 20_000 });
    expect(noLibrary.exitCode).toBe(2);
    expect(String(noLibrary.stderr)).toContain('python3-dbus-next is not installed');
  });
});
