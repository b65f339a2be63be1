// A node written in shell from docs/protocol.md alone (test/fixtures/echo-node.sh: bash and socat
// writing the D-Bus wire format), on a real dbus-daemon under an in-process root node. It subscribes
// narrowly (docs/protocol.md#routes): the daemon sends it only the messages of its command's route.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { startPrivateBus, startTestRoot, type PrivateBus, type TestRoot } from '../helpers/bus.js';
import { spawnNode, stopAllNodes, TEST_INSTANCE, TEST_TOKEN, type NodeProcess } from '../helpers/node-process.js';
import { fixture, shellFixture } from '../helpers/paths.js';
import { waitFor } from '../helpers/wait.js';
import { line, type HiveMessage } from '../../protocol/hive-message.js';
import { encode } from '../../protocol/codec.js';
import { HIVE_MESSAGE_SIGNATURE, MESSAGE_SIGNAL_SIGNATURE, nodeBusName, NODE_INTERFACE, NODE_PATH } from '../../protocol/names.js';
import { Message, MessageType, callWithDeadline, connectBus, emitHiveSignal, nameOwner, type MessageBus } from '../../protocol/sdk/bus.js';

const SCRIPT = shellFixture('echo-node.sh');
let bus: PrivateBus;
let client: MessageBus;
let roots: TestRoot[] = [];

beforeAll(async () => {
  bus = await startPrivateBus();
  client = await connectBus(bus.address);
});
afterAll(async () => {
  client?.disconnect();
  await bus?.stop();
});
afterEach(async () => {
  await stopAllNodes();
  for (const r of roots) await r.stop();
  roots = [];
});

async function root(name = 'mouth'): Promise<TestRoot> {
  const r = await startTestRoot(bus.address, name);
  roots.push(r);
  return r;
}

function shellNode(parent = 'mouth'): NodeProcess {
  return spawnNode({ name: 'shecho', command: ['bash', SCRIPT], bus: bus.address, parent: nodeBusName(TEST_INSTANCE, parent) });
}

function attached(r: TestRoot, name = 'shecho') {
  return waitFor(() => [...r.node.children.values()].some((c) => c.name === name), { what: `${name} attached to ${r.node.name}` });
}

/** Emits a line down from `r` as the mouth would; returns its hive.id. */
function say(r: TestRoot, raw: string, meta: Record<string, unknown> = {}): string {
  const msg: HiveMessage = { lines: [line(raw)], meta: { 'hive.network': 'net', 'hive.nick': 'hive', ...meta } };
  r.node.emit(msg);
  return msg.meta['hive.id'] as string;
}

/** The processes still running that were started with this test's bus in their arguments, but the bus itself. */
async function leftovers(): Promise<string[]> {
  const { stdout } = await execa('pgrep', ['-af', bus.dir], { reject: false });
  return stdout.split('\n').filter((l) => l.trim() && !l.startsWith(`${bus.pid} `));
}

describe('a node written in shell', () => {
  it('answers !shecho in a channel with the text, on the network and answering the id', async () => {
    const r = await root();
    shellNode();
    await attached(r);
    const id = say(r, ':bob!b@host PRIVMSG #chan :!shecho hello shell');
    const reply = await r.replyTo(id);
    expect(reply.lines.map(String)).toEqual(['PRIVMSG #chan :hello shell']);
    expect(reply.meta['hive.reply_to']).toBe(id);
    expect(reply.meta['hive.network']).toBe('net');
    expect(reply.meta['hive.origin']).toBe('shecho');
    expect(reply.from).toBe('shecho');
  });

  it('answers a private message to the speaker, and keeps bytes that are not ASCII', async () => {
    const r = await root();
    shellNode();
    await attached(r);
    const id = say(r, "@account=bob :bob!b@host PRIVMSG hive :!shecho grüße, 'quoted' \\ text", { 'hive.network': "it's a net" });
    const reply = await r.replyTo(id);
    expect(reply.lines.map(String)).toEqual(["PRIVMSG bob :grüße, 'quoted' \\ text"]);
    expect(reply.meta['hive.network']).toBe("it's a net");
  });

  it('says nothing to other lines and to the mouth\'s events', async () => {
    const r = await root();
    shellNode();
    await attached(r);
    say(r, ':bob!b@host PRIVMSG #chan :hello there');
    say(r, ':bob!b@host PRIVMSG #chan :!other thing');
    say(r, ':bob!b@host NOTICE #chan :!shecho not a privmsg');
    r.node.emit({ lines: [], meta: { 'hive.network': 'net', 'hive.event': 'registered', 'hive.nick': 'hive' } });
    const id = say(r, ':bob!b@host PRIVMSG #chan :!shecho last');
    await r.replyTo(id);
    expect(r.received.map((m) => m.lines.map(String))).toEqual([['PRIVMSG #chan :last']]);
  });

  it('is sent only the messages of its route: other lines and events never reach its connection', async () => {
    const r = await root();
    const node = shellNode();
    await attached(r);
    say(r, ':bob!b@host PRIVMSG #chan :hello there');
    say(r, ':bob!b@host PRIVMSG #chan :!other thing');
    say(r, ':bob!b@host JOIN #chan');
    r.node.emit({ lines: [], meta: { 'hive.network': 'net', 'hive.event': 'registered', 'hive.nick': 'hive' } });
    const id = say(r, ':bob!b@host PRIVMSG #chan :!SHECHO counted');
    expect((await r.replyTo(id)).lines.map(String)).toEqual(['PRIVMSG #chan :counted']);
    // The reader logs every Message signal that reaches the connection, of its route or not.
    expect(node.logs.filter((l) => l.msg === 'message from the parent')).toHaveLength(1);
    expect(node.logs.filter((l) => l.msg === 'message of another route ignored')).toEqual([]);
  });

  it('ignores an old-style Message, a wrong route, a forged sender and an oversized line, and still answers', async () => {
    const r = await root();
    const node = shellNode();
    await attached(r);
    const wire = (text: string) => encode({ lines: [line(`:bob!b@host PRIVMSG #chan :${text}`)], meta: { 'hive.network': 'net', 'hive.id': `id-${text.length}-${text.slice(-6)}` } });
    // From the parent: the signature from before routes (no route argument), and a wrong route.
    r.node.bus.send(Message.newSignal(NODE_PATH, NODE_INTERFACE, 'Message', HIVE_MESSAGE_SIGNATURE, [wire('!shecho old signature')]));
    emitHiveSignal(r.node.bus, NODE_PATH, NODE_INTERFACE, 'Message', 'PRIVMSG', wire('!shecho wrong route'));
    // From another connection, sent to the node's own: no match rule stands in the way, its route is
    // right; and one with a first line of 200,000 bytes.
    const unique = await nameOwner(client, nodeBusName(TEST_INSTANCE, 'shecho'));
    const direct = (w: ReturnType<typeof wire>) => client.send(new Message({
      type: MessageType.SIGNAL, destination: unique, path: NODE_PATH, interface: NODE_INTERFACE, member: 'Message', signature: MESSAGE_SIGNAL_SIGNATURE, body: ['PRIVMSG.command.shecho', w],
    }));
    direct(wire('!shecho forged'));
    direct(wire(`!shecho ${'x'.repeat(200_000)}`));
    await node.waitForLog('message with a line over 8704 bytes ignored');
    const id = say(r, ':bob!b@host PRIVMSG #chan :!shecho real');
    await r.replyTo(id);
    expect(r.received.map((m) => m.lines.map(String))).toEqual([['PRIVMSG #chan :real']]);
    expect(node.logs.filter((l) => l.msg === 'signal from a connection that is not the parent ignored')).toHaveLength(1);
    expect(node.logs.filter((l) => l.msg === 'message from the parent')).toHaveLength(1);
    // The parent's two never reached the connection: the match rules wanted neither.
    expect(node.logs.filter((l) => ['message of another route ignored', 'signal ignored: not of the protocol'].includes(String(l.msg)))).toEqual([]);
  });

  it('attaches again when its parent comes back under a new owner', async () => {
    const first = await root();
    const node = shellNode();
    await attached(first);
    await first.stop();
    roots = [];
    await node.waitForLog('parent lost');
    const second = await root();
    await attached(second);
    const id = say(second, ':bob!b@host PRIVMSG #chan :!shecho again');
    expect((await second.replyTo(id)).lines.map(String)).toEqual(['PRIVMSG #chan :again']);
  });

  it("follows its parent's Reparent signal to the grandparent when the parent shuts down", async () => {
    const mouth = await root();
    const relay = spawnNode({ name: 'relay', command: ['node', fixture('passthrough')], bus: bus.address, parent: nodeBusName(TEST_INSTANCE, 'mouth') });
    await attached(mouth, 'relay');
    shellNode('relay');
    const children = () => callWithDeadline(client, {
      destination: nodeBusName(TEST_INSTANCE, 'relay'), path: NODE_PATH, interface: 'org.freedesktop.DBus.Properties', member: 'Get', signature: 'ss', body: [NODE_INTERFACE, 'Children'],
    }, 5000).then((r) => (r.body[0].value as [string, string][]).map(([n]) => n));
    await waitFor(async () => (await children()).includes('shecho'), { what: 'shell attached to relay' });
    const id = say(mouth, ':bob!b@host PRIVMSG #chan :!shecho through relay');
    expect((await mouth.replyTo(id)).meta['hive.path']).toEqual(['shecho', 'relay']);
    relay.kill('SIGTERM');
    expect(await relay.exited).toBe(0);
    await attached(mouth);
    const id2 = say(mouth, ':bob!b@host PRIVMSG #chan :!shecho direct');
    expect((await mouth.replyTo(id2)).meta['hive.path']).toEqual(['shecho']);
  });

  it('owns its bus name, moves on SetParent with the token and refuses a wrong one', async () => {
    const mouth = await root();
    const other = await root('other');
    shellNode();
    await attached(mouth);
    const setParent = (to: string, token: string) => callWithDeadline(client, {
      destination: nodeBusName(TEST_INSTANCE, 'shecho'), path: NODE_PATH, interface: NODE_INTERFACE, member: 'SetParent', signature: 'ss', body: [to, token],
    }, 5000);
    await expect(setParent(nodeBusName(TEST_INSTANCE, 'other'), 'wrong')).rejects.toMatchObject({ dbusName: 'org.hive.Error.BadToken' });
    await setParent(nodeBusName(TEST_INSTANCE, 'other'), TEST_TOKEN);
    await attached(other);
    await waitFor(() => mouth.node.children.size === 0, { what: 'shell detached from mouth' });
    const id = say(other, ':bob!b@host PRIVMSG #chan :!shecho moved');
    expect((await other.replyTo(id)).lines.map(String)).toEqual(['PRIVMSG #chan :moved']);
  });

  it('stops on SIGTERM with exit code 0 and leaves no socat behind', async () => {
    const r = await root();
    const node = shellNode();
    await attached(r);
    expect(await leftovers()).not.toEqual([]);
    node.kill('SIGTERM');
    expect(await node.exited).toBe(0);
    await waitFor(() => r.node.children.size === 0, { what: 'shell detached' });
    expect(await leftovers()).toEqual([]);
  });

  it('leaves nothing behind when it is killed with SIGKILL', async () => {
    const r = await root();
    const node = shellNode();
    await attached(r);
    node.kill('SIGKILL');
    await node.exited;
    await waitFor(() => r.node.children.size === 0, { what: 'shell gone from the tree' });
    await waitFor(async () => (await leftovers()).length === 0, { timeout: 5000, what: 'socat to exit' });
  });

  it('exits with code 2 when its environment is incomplete', async () => {
    const node = spawnNode({ name: 'shecho', command: ['bash', SCRIPT], bus: bus.address, token: '' });
    expect(await node.exited).toBe(2);
    expect(node.stderr.join('\n')).toContain('HIVE_TOKEN');
  });
});
