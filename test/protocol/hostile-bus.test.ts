// Hostile input from the bus (issue 14, items 8-11): oversized bodies, callers that are no child,
// metadata that is too large inside its containers, forged origin and path, a child evicted from
// its place, forged sequence numbers. A real dbus-daemon with the hive's own bus config.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import dbus from 'dbus-next';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPrivateBus, startTestRoot, type PrivateBus, type TestRoot } from '../helpers/bus.js';
import { TEST_INSTANCE, TEST_TOKEN } from '../helpers/node-process.js';
import { waitFor } from '../helpers/wait.js';
import { nodeBusName, NODE_INTERFACE, NODE_PATH } from '../../protocol/names.js';
import { line } from '../../protocol/hive-message.js';
import { callHiveMethod, callWithDeadline, connectBus, type MessageBus } from '../../protocol/sdk/bus.js';
import { HiveNode } from '../../protocol/sdk/node.js';
import { createLogger } from '../../protocol/logger.js';
import { LIMITS } from '../../protocol/limits.js';
import type { WireMessage } from '../../protocol/codec.js';

const { Variant } = dbus;
let bus: PrivateBus;
let root: TestRoot | undefined;
const raws: MessageBus[] = [];
const kids: HiveNode[] = [];
const dirs: string[] = [];
const mouth = nodeBusName(TEST_INSTANCE, 'mouth');

beforeAll(async () => { bus = await startPrivateBus(); });
afterAll(async () => { await bus?.stop(); });
afterEach(async () => {
  for (const k of kids.splice(0)) await k.stop().catch(() => undefined);
  for (const r of raws.splice(0)) r.disconnect();
  await root?.stop();
  root = undefined;
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function raw(): Promise<MessageBus> {
  const r = await connectBus(bus.address);
  raws.push(r);
  return r;
}

async function kid(name: string, parent = mouth, extra: { stateDir?: string } = {}): Promise<HiveNode> {
  const k = new HiveNode({ name, kind: 'responder', instance: TEST_INSTANCE, token: TEST_TOKEN, busAddress: bus.address, parent, log: createLogger({ node: `test-${name}`, level: 'silent' }), ...extra });
  kids.push(k);
  await k.start();
  return k;
}

function reply(text: string, meta: Record<string, InstanceType<typeof Variant>> = {}): WireMessage {
  return [[line(`PRIVMSG #c :${text}`)], { 'hive.network': new Variant('s', 'net'), 'hive.id': new Variant('s', `t-${text}`), ...meta }];
}

function sendTo(from: MessageBus, wire: WireMessage, destination = mouth) {
  return callHiveMethod(from, { destination, path: NODE_PATH, interface: NODE_INTERFACE, member: 'Send' }, wire, 20_000);
}

describe('oversized bodies and callers that are no child', () => {
  it('refuses a huge Send from a connection that is no child unread, and still serves its child right after', async () => {
    root = await startTestRoot(bus.address);
    const child = await kid('kid');
    await waitFor(() => root!.node.children.size === 1, { what: 'kid attached' });
    const attacker = await raw();
    // 100,000 metadata entries, about 2.5 MB on the wire: under the bus's message limit, so only the node can refuse it.
    const meta: Record<string, InstanceType<typeof Variant>> = {};
    for (let i = 0; i < 100_000; i++) meta[`x.k${i}`] = new Variant('s', 'v');
    const err = await sendTo(attacker, [[line('PRIVMSG #c :hi')], meta]).then(() => undefined, (e: Error & { code?: string }) => e);
    expect(err?.code).toBe('NotChild');
    // Refused at the header: counted as such (the body was skipped, never decoded).
    expect(root.node.counters.not_child).toBe(1);
    expect(root.node.counters.in).toBe(0);
    await child.send({ lines: [line('PRIVMSG #c :still here')], meta: { 'hive.network': 'net', 'hive.reply_to': 'after' } });
    expect((await root.replyTo('after')).from).toBe('kid');
  });

  it('refuses a Replay from a connection that is no child', async () => {
    root = await startTestRoot(bus.address);
    const attacker = await raw();
    const err = await callWithDeadline(attacker, { destination: mouth, path: NODE_PATH, interface: NODE_INTERFACE, member: 'Replay', signature: 'st', body: ['net', 0n] }, 5000).then(() => undefined, (e: Error & { code?: string }) => e);
    expect(err?.code).toBe('NotChild');
    expect(root.node.counters.not_child).toBe(1);
  });

  it('refuses a child\'s call whose body is larger than any HiveMessage unread, with InvalidMessage', async () => {
    root = await startTestRoot(bus.address);
    const child = await kid('kid');
    await waitFor(() => root!.node.children.size === 1, { what: 'kid attached' });
    // A 10 MB custom container value, and a 5 MB hive.tags.
    const big = new Variant('as', Array.from({ length: 10_000 }, () => 'y'.repeat(1000)));
    const tags = new Variant('a{ss}', Object.fromEntries(Array.from({ length: 5_000 }, (_, i) => [`t${i}`, 'z'.repeat(1000)])));
    for (const extra of [{ 'x.big': big }, { 'hive.tags': tags }]) {
      const err = await sendTo(child.bus, reply('big', extra)).then(() => undefined, (e: Error & { code?: string }) => e);
      expect(err?.code).toBe('InvalidMessage');
      expect(err?.message).toMatch(new RegExp(`larger than ${LIMITS.maxCallBodyBytes}`));
    }
    expect(root.node.counters.oversized).toBe(2);
    expect(root.received).toHaveLength(0);
  });

  it('counts every value against the metadata limit: nested containers, dict entries, byte arrays, numbers', async () => {
    root = await startTestRoot(bus.address);
    const child = await kid('kid');
    await waitFor(() => root!.node.children.size === 1, { what: 'kid attached' });
    const cases = {
      'a custom array of strings': { 'x.list': new Variant('as', Array.from({ length: 200 }, () => 's'.repeat(100))) },
      'hive.tags': { 'hive.tags': new Variant('a{ss}', Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${i}`, 'v'.repeat(100)]))) },
      'a byte array': { 'x.bytes': new Variant('ay', Buffer.alloc(20_000)) },
      'numbers': { 'x.nums': new Variant('ax', Array.from({ length: 3000 }, (_, i) => BigInt(i))) },
      'nested variants': { 'x.nest': new Variant('av', Array.from({ length: 100 }, () => new Variant('as', ['q'.repeat(200)]))) },
    };
    for (const [what, extra] of Object.entries(cases)) {
      const err = await sendTo(child.bus, reply('meta', extra)).then(() => undefined, (e: Error & { code?: string }) => e);
      expect(err?.code, what).toBe('InvalidMessage');
      expect(err?.message, what).toMatch(/metadata: more than 16384 bytes/);
    }
    // The happy case beside it: a few small values of each kind pass.
    await sendTo(child.bus, reply('ok', { 'x.list': new Variant('as', ['a', 'b']), 'x.nums': new Variant('ax', [1n, 2n]), 'hive.tags': new Variant('a{ss}', { a: 'b' }) }));
    expect(root.received).toHaveLength(1);
  });

  it('the bus itself refuses a message larger than its limit: the daemon drops the sender', async () => {
    root = await startTestRoot(bus.address);
    const attacker = await raw();
    const closed = new Promise<void>((resolve) => (attacker as unknown as { _connection: { stream: NodeJS.EventEmitter } })._connection.stream.once('close', () => resolve()));
    const huge: WireMessage = [[Buffer.alloc(LIMITS.busMaxMessageBytes + 1024, 0x61)], {}];
    // The daemon answers a message over max_message_size by closing the sender's connection.
    void callHiveMethod(attacker, { destination: mouth, path: NODE_PATH, interface: NODE_INTERFACE, member: 'Send' }, huge, 3000).catch(() => undefined);
    await closed;
    // The node never saw it, and answers as before.
    expect(root.node.counters.errors).toBe(0);
    const other = await raw();
    const props = await callWithDeadline(other, { destination: mouth, path: NODE_PATH, interface: 'org.freedesktop.DBus.Properties', member: 'Get', signature: 'ss', body: [NODE_INTERFACE, 'Name'] }, 5000);
    expect(props.body[0].value).toBe('mouth');
  });
});

describe('path and origin come from the verified sender', () => {
  it('puts the child the message came from last on the path, and takes an origin only from the path', async () => {
    root = await startTestRoot(bus.address);
    const child = await kid('kid');
    await waitFor(() => root!.node.children.size === 1, { what: 'kid attached' });
    // Claiming to be another node: origin 'ping', a path without itself.
    await sendTo(child.bus, reply('forged', { 'hive.reply_to': new Variant('s', 'f1'), 'hive.origin': new Variant('s', 'ping'), 'hive.path': new Variant('as', ['auth']) }));
    const forged = await root.replyTo('f1');
    expect(forged.meta['hive.path']).toEqual(['auth', 'kid']);
    expect(forged.meta['hive.origin']).toBe('auth');
    expect(root.node.counters.forged_origin).toBe(1);
    // No path, no origin: the child's name for both.
    await sendTo(child.bus, reply('bare', { 'hive.reply_to': new Variant('s', 'f2') }));
    const bare = await root.replyTo('f2');
    expect(bare.meta['hive.path']).toEqual(['kid']);
    expect(bare.meta['hive.origin']).toBe('kid');
    // The SDK's own send, and a node (Python, shell) that already put its name on the path: not twice.
    await child.send({ lines: [line('PRIVMSG #c :sdk')], meta: { 'hive.network': 'net', 'hive.reply_to': 'f3' } });
    expect((await root.replyTo('f3')).meta).toMatchObject({ 'hive.path': ['kid'], 'hive.origin': 'kid' });
    await sendTo(child.bus, reply('own', { 'hive.reply_to': new Variant('s', 'f4'), 'hive.origin': new Variant('s', 'kid'), 'hive.path': new Variant('as', ['kid']) }));
    expect((await root.replyTo('f4')).meta['hive.path']).toEqual(['kid']);
    expect(root.node.counters.forged_origin).toBe(1);
  });

  it('refuses a path that would grow past 64 nodes', async () => {
    root = await startTestRoot(bus.address);
    const child = await kid('kid');
    await waitFor(() => root!.node.children.size === 1, { what: 'kid attached' });
    const long = Array.from({ length: 64 }, (_, i) => `n${i}`);
    const err = await sendTo(child.bus, reply('long', { 'hive.path': new Variant('as', long) })).then(() => undefined, (e: Error & { code?: string }) => e);
    expect(err?.code).toBe('InvalidMessage');
  });
});

describe('a node refused as a child', () => {
  it('attaches again when another connection took its place, and what it sends arrives', async () => {
    root = await startTestRoot(bus.address);
    const child = await kid('kid');
    await waitFor(() => root!.node.children.size === 1, { what: 'kid attached' });
    const impostor = await raw();
    await callWithDeadline(impostor, { destination: mouth, path: NODE_PATH, interface: NODE_INTERFACE, member: 'Attach', signature: 'ss', body: ['kid', TEST_TOKEN] }, 5000);
    expect([...root.node.children.keys()]).toEqual([impostor.name]);
    await child.send({ lines: [line('PRIVMSG #c :back')], meta: { 'hive.network': 'net', 'hive.reply_to': 'back' } });
    const m = await root.replyTo('back');
    expect(m.from).toBe('kid');
    expect([...root.node.children.keys()]).toEqual([child.uniqueName]);
    expect(child.counters.refused_as_child).toBe(1);
  });

  it('gives its place up (onLostPlace: the process exits 3) when refused again and again', async () => {
    // A parent that accepts Attach but refuses every Send.
    const parent = await raw();
    const parentName = nodeBusName(TEST_INSTANCE, 'liar');
    await parent.requestName(parentName, 0x4);
    parent.addMethodHandler((msg) => {
      if (msg.member === 'Attach') parent.send(dbus.Message.newMethodReturn(msg, '', []));
      else if (msg.member === 'Send') parent.send(dbus.Message.newError(msg, 'org.hive.Error.NotChild', 'Send: not a child'));
      else parent.send(dbus.Message.newMethodReturn(msg, 'a(aaya{sv})b', [[], true]));
      return true;
    });
    const child = await kid('kid', parentName);
    let lost = 0;
    child.onLostPlace = () => { lost++; };
    const codes: (string | undefined)[] = [];
    for (let i = 0; i < 4; i++) {
      codes.push(await child.send({ lines: [line('PRIVMSG #c :x')], meta: { 'hive.network': 'net' } }).then(() => undefined, (e: Error & { code?: string }) => e.code));
    }
    expect(codes).toEqual(['NotChild', 'NotChild', 'NotChild', 'NotChild']);
    expect(lost).toBe(1);
    expect(child.counters.refused_as_child).toBe(4);
  });
});

describe('sequence numbers checked against the parent\'s numbering', () => {
  async function listener(stateDir: string) {
    const k = await kid('kid', mouth, { stateDir });
    const heard: string[] = [];
    k.onDown = (w) => { heard.push(w[0][0]!.toString()); };
    await waitFor(() => root!.node.children.size === 1, { what: 'kid attached' });
    return { k, heard };
  }
  const emit = (text: string, seq: number) => root!.node.emit({ lines: [line(`PRIVMSG #c :${text}`)], meta: { 'hive.network': 'net', 'hive.seq': seq } });
  const seqFile = (dir: string) => join(dir, '.hive-seq.json');

  it('does not remember a forged number from the future, and still hears traffic after a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hive-seq-')); dirs.push(dir);
    root = await startTestRoot(bus.address);
    const a = await listener(dir);
    emit('one', 1000);
    emit('forged', (Date.now() + 86_400_000) * 1000);
    emit('two', 1001);
    await waitFor(() => a.heard.length === 3, { what: 'three messages' });
    expect(a.k.counters.seq_forged).toBe(1);
    await waitFor(async () => (await readFile(seqFile(dir), 'utf8').catch(() => '')) === '{"net":1001}', { what: 'the saved number' });
    await a.k.stop();
    const b = await listener(dir);
    emit('three', 1002);
    await waitFor(() => b.heard.includes('PRIVMSG #c :three'), { what: 'three after the restart' });
  });

  it('remembers the numbers of at most 64 networks, and still delivers the messages of more', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hive-seq-')); dirs.push(dir);
    root = await startTestRoot(bus.address);
    const a = await listener(dir);
    for (let i = 0; i < 100; i++) root.node.emit({ lines: [line(`PRIVMSG #c :n${i}`)], meta: { 'hive.network': `net${i}`, 'hive.seq': 1000 + i } });
    await waitFor(() => a.heard.length === 100, { what: 'all hundred messages' });
    expect(a.k.counters.seq_untracked).toBe(36);
    await waitFor(async () => Object.keys(JSON.parse(await readFile(seqFile(dir), 'utf8').catch(() => '{}')) as object).length === 64, { what: 'the saved numbers of 64 networks' });
  });

  it('hears a new parent whose numbers went backwards (a new mouth), and forgets a saved number from the future', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hive-seq-')); dirs.push(dir);
    root = await startTestRoot(bus.address);
    const a = await listener(dir);
    emit('old', 500_000);
    await waitFor(() => a.heard.length === 1, { what: 'the old mouth\'s message' });
    await root.stop();
    root = await startTestRoot(bus.address);
    await waitFor(() => root!.node.children.size === 1, { what: 'kid attached to the new mouth' });
    emit('replayed overlap', 499_900); // within the window: taken as already seen
    emit('new', 10);
    await waitFor(() => a.heard.includes('PRIVMSG #c :new'), { what: 'the new mouth\'s message' });
    expect(a.heard).not.toContain('PRIVMSG #c :replayed overlap');
    expect(a.k.counters.seq_reset).toBe(1);
    await a.k.stop();
    // stop() saves the last number and waits for the write: nothing lands in the dir after it.
    expect(await readFile(seqFile(dir), 'utf8')).toBe('{"net":10}');
    // A file saved by an older version from a forged message: forgotten at start.
    await writeFile(seqFile(dir), JSON.stringify({ net: (Date.now() + 86_400_000) * 1000 }));
    const b = await listener(dir);
    emit('after', 11);
    await waitFor(() => b.heard.includes('PRIVMSG #c :after'), { what: 'a message after the restart' });
  });
});
