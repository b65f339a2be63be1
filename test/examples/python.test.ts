// Plugins in Python (plugins/examples/python/: python3-dbus-next, Debian's /usr/bin/python3, nothing
// of Hive's TypeScript) in a real hive on the terminal network: they answer through the mouth, are
// loaded at runtime, killed and restarted, re-parented, and a Python filter carries children. The
// responder has commands only, so it takes only their routes (docs/protocol.md#routes); under an
// in-process parent, what reaches a Python node and what a Python parent replays are checked closely.
import { PYTHON_SDK } from '../../tree-supervisor/node-process.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa, type ResultPromise } from 'execa';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startHive, alive, type TestHive } from '../helpers/hive.js';
import { ROOT } from '../helpers/paths.js';
import { waitFor } from '../helpers/wait.js';
import { exec, waitForNodeLog } from '../mouth/util.js';
import { startPrivateBus, startTestRoot, type PrivateBus, type TestRoot } from '../helpers/bus.js';
import { spawnNode, stopAllNodes, TEST_INSTANCE, TEST_TOKEN, type NodeProcess } from '../helpers/node-process.js';
import { Message, MessageType, callWithDeadline, connectBus, emitHiveSignal, nameOwner, type MessageBus } from '../../protocol/sdk/bus.js';
import { HIVE_MESSAGE_SIGNATURE, MESSAGE_SIGNAL_SIGNATURE, NODE_INTERFACE, NODE_PATH, nodeBusName } from '../../protocol/names.js';
import { encode, type WireMessage } from '../../protocol/codec.js';
import { line, type HiveMessage } from '../../protocol/hive-message.js';

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
    // Its four commands, not `!ping`: it takes only its commands' routes (docs/protocol.md#routes).
    expect(Number(counters.in)).toBe(4);
    expect(Number(counters.out)).toBeGreaterThanOrEqual(4);
    expect(Number(counters.errors)).toBe(0);
    expect(p.Details).toEqual({});
    const node = await hive.node('pyresp');
    expect(node).toMatchObject({ kind: 'responder', state: 'running', parent: 'mouth' });
  });

  it('is sent only its commands (routes): the other lines never wake it, and it answers its own', async () => {
    const counters = async () => (await props(bus, hive, 'pyresp')).Counters as Record<string, bigint>;
    const before = await counters();
    // Talk, another node's command, a command that only starts like ours, ours without a prefix.
    for (const text of ['just talking', '!ping', '!pyechoes not ours', 'pyping said in passing', 'hive: ping']) hive.say(text);
    await ask(hive, '!pyecho counted', 'counted');
    const after = await counters();
    expect(Number(after.in) - Number(before.in)).toBe(1);
    // None delivered and dropped by the node itself: the bus daemon never sent them.
    expect(after.unwanted).toBeUndefined();
    expect(Number(after.errors)).toBe(0);
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

describe('a narrow Python responder whose parent is killed', () => {
  let hive: TestHive;
  beforeAll(async () => {
    hive = await startHive({
      networks: TERMINAL,
      plugins: [
        { name: 'ping', use: 'ping' },
        { name: 'relay', exec: exec('passthrough') },
        { name: 'pyresp', exec: [PYTHON, RESPONDER], parent: 'relay' },
      ],
    });
    await waitForNodeLog(hive, 'pyresp', 'attached to parent', (l) => l.parent === `org.hive.${hive.instance}.relay`, 20_000);
  }, 60_000);
  afterAll(async () => {
    await hive?.stop();
  });

  it('is caught up by ReplayRoutes with its own commands only, answers them once, and loses nothing', async () => {
    await ask(hive, '!pyping', 'pong from python'); // a hive.seq of the console network to start from
    const relay = await hive.node('relay');
    const since = hive.logs.length;
    // The relay hangs: what the mouth says now reaches the mouth's ring, not pyresp.
    process.kill(relay.pid!, 'SIGSTOP');
    hive.say('!pyecho said while the relay hung');
    for (const text of ['talk', 'more talk', '!pyechoes not ours']) hive.say(text);
    await ask(hive, '!ping', 'pong');
    process.kill(relay.pid!, 'SIGKILL');
    // The supervisor moves pyresp to the mouth, which it asks for what it missed of its routes.
    const caught = await waitForNodeLog(hive, 'pyresp', 'caught up from replay', (l) => l.how === 'ReplayRoutes', 20_000);
    expect(caught).toMatchObject({ network: 'console', count: 1 });
    await hive.expectOutput('said while the relay hung', { timeout: 15_000 });
    await restarted(hive, 'relay', relay.pid!);
    await waitFor(() => hive.logs.slice(since).some((l) => l.node === 'pyresp' && l.msg === 'SetParent' && l.to === `org.hive.${hive.instance}.relay`), { timeout: 20_000, what: 'pyresp moved back under the relay' });
    await ask(hive, '!pyecho back under the relay', 'back under the relay');
    expect(hive.stdout.filter((l) => l === 'said while the relay hung')).toHaveLength(1);
    const n = await hive.node('pyresp');
    expect(n.counters.lost).toBe(0);
    expect(n.counters.unwanted).toBeUndefined();
    expect(pythonErrors(hive)).toEqual([]);
  });
});

describe('Python nodes under an in-process parent: what reaches them, and Replay from a Python parent', () => {
  let privateBus: PrivateBus;
  let client: MessageBus;
  let r: TestRoot;
  let pyresp: NodeProcess;
  let pyfilter: NodeProcess;
  const py = (name: string, file: string) => spawnNode({ name, command: [PYTHON, file], bus: privateBus.address, parent: nodeBusName(TEST_INSTANCE, 'mouth') });
  const counters = async (node: string) => {
    const reply = await callWithDeadline(client, { destination: nodeBusName(TEST_INSTANCE, node), path: NODE_PATH, interface: 'org.freedesktop.DBus.Properties', member: 'Get', signature: 'ss', body: [NODE_INTERFACE, 'Counters'] }, 5000);
    return Object.fromEntries(Object.entries(reply.body[0].value as Record<string, bigint>).map(([k, v]) => [k, Number(v)]));
  };
  const wire = (text: string, meta: Record<string, unknown> = {}) => encode({ lines: [line(`:bob!b@host PRIVMSG #chan :${text}`)], meta: { 'hive.network': 'net', 'hive.nick': 'hive', 'hive.id': `t-${text.length}-${Math.random()}`, ...meta } });
  const say = (text: string, meta: Record<string, unknown> = {}) => {
    const msg: HiveMessage = { lines: [line(`:bob!b@host PRIVMSG #chan :${text}`)], meta: { 'hive.network': 'net', 'hive.nick': 'hive', ...meta } };
    r.node.emit(msg);
    return msg.meta['hive.id'] as string;
  };
  beforeAll(async () => {
    privateBus = await startPrivateBus();
    client = await connectBus(privateBus.address);
    r = await startTestRoot(privateBus.address);
    pyresp = py('pyresp', RESPONDER);
    pyfilter = py('pyfilter', FILTER);
    await waitFor(() => [...r.node.children.values()].map((c) => c.name).sort().join() === 'pyfilter,pyresp', { timeout: 20_000, what: 'pyresp and pyfilter attached' });
  }, 60_000);
  afterAll(async () => {
    await stopAllNodes();
    await r?.stop();
    client?.disconnect();
    await privateBus?.stop();
  });

  it('ignores a Message of the old signature, a route it did not ask for, and one from another connection', async () => {
    const before = { pyresp: await counters('pyresp'), pyfilter: await counters('pyfilter') };
    // From the parent: the signature from before routes (the filter, which takes everything, gets it
    // and drops it; the responder's match rules never let it through), and a command under a wrong route.
    r.node.bus.send(Message.newSignal(NODE_PATH, NODE_INTERFACE, 'Message', HIVE_MESSAGE_SIGNATURE, [wire('!pyecho old signature')]));
    emitHiveSignal(r.node.bus, NODE_PATH, NODE_INTERFACE, 'Message', 'PRIVMSG', wire('!pyecho wrong route'));
    // From another connection, straight to each node's: the right route, the wrong sender.
    for (const node of ['pyresp', 'pyfilter']) {
      const unique = await nameOwner(client, nodeBusName(TEST_INSTANCE, node));
      client.send(new Message({ type: MessageType.SIGNAL, destination: unique, path: NODE_PATH, interface: NODE_INTERFACE, member: 'Message', signature: MESSAGE_SIGNAL_SIGNATURE, body: ['PRIVMSG.command.pyecho', wire('!pyecho forged')] }));
    }
    const id = say('!pyecho real');
    const reply = await r.replyTo(id);
    expect(reply.lines.map(String)).toEqual(['PRIVMSG #chan :real']);
    await new Promise((resolve) => setTimeout(resolve, 500)); // anything else it would have answered by now
    expect(r.received.map((m) => m.lines.map(String))).toEqual([['PRIVMSG #chan :real']]);
    const after = { pyresp: await counters('pyresp'), pyfilter: await counters('pyfilter') };
    expect(after.pyresp.in! - before.pyresp.in!).toBe(1);
    expect(after.pyresp.unwanted).toBeUndefined();
    expect(after.pyresp.bad_signals).toBeUndefined();
    expect(after.pyfilter.in! - before.pyfilter.in!).toBe(2); // the real one, and the wrong route: a filter takes all
    expect(after.pyfilter.bad_signals).toBe(1);
  });

  it('serves Replay and ReplayRoutes to a child: complete judged per route, bounded, and only for children', async () => {
    const filterBus = nodeBusName(TEST_INSTANCE, 'pyfilter');
    const call = (member: string, signature: string, body: unknown[]) => callWithDeadline(client, { destination: filterBus, path: NODE_PATH, interface: NODE_INTERFACE, member, signature, body }, 10_000);
    await expect(call('ReplayRoutes', 'stas', ['net', 0n, ['PRIVMSG.*']])).rejects.toMatchObject({ dbusName: 'org.hive.Error.NotChild' });
    await call('Attach', 'ss', ['probe', TEST_TOKEN]);
    // 520 lines of talk, then two commands: the ring of 512 has let the first talk go, no command.
    const base = Date.now() * 1000;
    for (let i = 1; i <= 520; i++) say(`talk ${i}`, { 'hive.seq': base + i });
    const last = say('!pyping', { 'hive.seq': base + 521 });
    say('!pyecho last', { 'hive.seq': base + 522 });
    await r.replyTo(last);
    await waitFor(async () => (await counters('pyfilter')).out! >= 522, { timeout: 20_000, what: 'pyfilter passed everything down' });
    const replay = async (routes?: string[]) => {
      const reply = routes ? await call('ReplayRoutes', 'stas', ['net', BigInt(base), routes]) : await call('Replay', 'st', ['net', BigInt(base)]);
      const [messages, complete] = reply.body as [WireMessage[], boolean];
      return { texts: messages.map(([lines]) => String(lines[0]).split(' :')[1]), complete };
    };
    expect(await replay(['PRIVMSG.command.pyping', 'PRIVMSG.command.pyecho'])).toEqual({ texts: ['!pyping', '!pyecho last'], complete: true });
    expect(await replay(['PRIVMSG.command.*'])).toEqual({ texts: ['!pyping', '!pyecho last'], complete: true });
    expect(await replay(['JOIN'])).toEqual({ texts: [], complete: true });
    const talk = await replay(['PRIVMSG']); // the evicted talk was of this route
    expect(talk.complete).toBe(false);
    expect(talk.texts).toHaveLength(510);
    expect(talk.texts[0]).toBe('talk 11');
    expect((await replay(['PRIVMSG.*'])).complete).toBe(false);
    const all = await replay();
    expect(all).toMatchObject({ complete: false });
    expect(all.texts).toHaveLength(512);
    // Hostile: a pattern the bus daemon would refuse, and too many patterns.
    await expect(call('ReplayRoutes', 'stas', ['net', 0n, ['not a namespace.*']])).rejects.toMatchObject({ dbusName: 'org.hive.Error.InvalidArgs' });
    await expect(call('ReplayRoutes', 'stas', ['net', 0n, Array.from({ length: 257 }, (_, i) => `K${i}`)])).rejects.toMatchObject({ dbusName: 'org.hive.Error.InvalidArgs' });
    await call('Detach', '', []);
    expect(pyfilter.logs.filter((l) => Number(l.level) >= 50)).toEqual([]);
    expect(pyresp.logs.filter((l) => Number(l.level) >= 50)).toEqual([]);
  });
});

describe('exit code 2', () => {
  const env = { HIVE_NODE: 'pyresp', HIVE_TOKEN: 'secret', HIVE_BUS_ADDRESS: 'unix:path=/nonexistent/bus', HIVE_LOG_FORMAT: 'json', PYTHONPATH: PYTHON_SDK };
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
