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
