// The link to the parent, on a real private bus, without the rest of a node: attaching, hearing
// the parent's messages, sending up, following Reparent, and NoParent when there is none.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startPrivateBus, startTestRoot, type PrivateBus, type TestRoot } from '../../test/helpers/bus.js';
import { TEST_INSTANCE, TEST_TOKEN } from '../../test/helpers/node-process.js';
import { waitFor } from '../../test/helpers/wait.js';
import { decode, encode, type WireMessage } from '../codec.js';
import { HiveError } from '../errors.js';
import { line } from '../hive-message.js';
import { createLogger } from '../logger.js';
import { NODE_INTERFACE, nodeBusName } from '../names.js';
import { DBUS, MessageType, connectBus, type DBusMessage, type MessageBus } from './bus.js';
import { MatchRules } from './bus-names.js';
import { HiveNode } from './node.js';
import { createContext, type Counters } from './node-context.js';
import { ParentLink, parentGone, reattachDelay } from './parent-link.js';
import { SequenceNumbers } from './sequence-numbers.js';

const busName = (n: string) => nodeBusName(TEST_INSTANCE, n);
const silent = (node: string) => createLogger({ node, level: 'silent' });

describe('parentGone and reattachDelay', () => {
  it('takes NoParent and a vanished destination as gone, not a refusal or a slow parent', () => {
    expect(parentGone(new HiveError('NoParent', 'x'))).toBe(true);
    expect(parentGone(new HiveError('Failed', 'x', { cause: { type: 'org.freedesktop.DBus.Error.ServiceUnknown' } }))).toBe(true);
    expect(parentGone(new HiveError('Failed', 'x', { cause: { type: 'org.hive.Error.InvalidMessage' } }))).toBe(false);
    expect(parentGone(new HiveError('Timeout', 'x'))).toBe(false);
    expect(parentGone(new Error('x'))).toBe(false);
  });

  it('attaches again at once, then after 500 ms, 1 s, 2 s', () => {
    expect([1, 2, 3, 4].map(reattachDelay)).toEqual([0, 500, 1000, 2000]);
  });
});

describe('ParentLink', () => {
  let bus: PrivateBus;
  const open: { stop(): unknown }[] = [];
  beforeAll(async () => { bus = await startPrivateBus(); });
  afterAll(async () => { await bus?.stop(); });
  afterEach(async () => { for (const o of open.splice(0).reverse()) await o.stop(); });

  async function root(name = 'mouth'): Promise<TestRoot> {
    const r = await startTestRoot(bus.address, name);
    open.push(r);
    return r;
  }

  /** A link named `name` on a connection of its own, the connection's signals handed to it as HiveNode does. */
  async function link(name: string, callTimeoutMs = 5000) {
    const conn: MessageBus = await connectBus(bus.address);
    let stopping = false;
    open.push({ stop: () => { stopping = true; conn.disconnect(); } });
    const counters: Counters = { in: 0, out: 0, dropped: 0, errors: 0, lost: 0 };
    const ctx = createContext({ name, busName: busName(name), instance: TEST_INSTANCE, token: TEST_TOKEN, log: silent(`test-${name}`), counters, callTimeoutMs, bus: () => conn, stopping: () => stopping });
    const heard: WireMessage[] = [];
    const attached: string[] = [];
    const l = new ParentLink(ctx, {
      token: TEST_TOKEN, rules: new MatchRules(() => conn), seqs: new SequenceNumbers(ctx, undefined),
      deliver: (w) => heard.push(w), attached: (p) => attached.push(p), lostPlace: () => undefined,
    });
    conn.on('message', (msg: DBusMessage) => {
      if (msg.type !== MessageType.SIGNAL) return;
      if (msg.interface === NODE_INTERFACE) l.onSignal(msg);
      else if (msg.sender === DBUS.name && msg.member === 'NameOwnerChanged') l.ownerChanged(msg.body[0] as string, msg.body[2] as string);
    });
    return { l, conn, heard, attached, counters };
  }

  it('attaches to its parent by bus name, hears its messages and sends up through it', async () => {
    const r = await root();
    const k = await link('kid');
    await k.l.setParent(busName('mouth'));
    expect(k.attached).toEqual([busName('mouth')]);
    expect(k.l.parentUnique).toBe(r.node.uniqueName);
    expect([...r.node.children.values()].map((c) => c.name)).toEqual(['kid']);
    r.node.emit({ lines: [line(':a!b@c PRIVMSG #x :hello')], meta: { 'hive.id': 'm1', 'hive.network': 'net', 'hive.seq': 7 } });
    const down = decode(await waitFor(() => k.heard[0], { what: 'the parent\'s message' }));
    expect(down.meta['hive.id']).toBe('m1');
    await k.l.sendUp(encode({ lines: [line('PRIVMSG #x :hi')], meta: { 'hive.id': 'r1', 'hive.reply_to': 'm1' } }));
    expect((await r.replyTo('m1')).from).toBe('kid');
  });

  it('without a parent, sending up waits for one and fails with NoParent', async () => {
    const k = await link('lonely', 300);
    await expect(k.l.setParent(busName('nobody'))).rejects.toMatchObject({ code: 'NoParent' });
    await expect(k.l.sendUp(encode({ lines: [line('PRIVMSG #x :hi')], meta: {} }))).rejects.toMatchObject({ code: 'NoParent' });
    await expect(k.l.waitAttached(100)).rejects.toMatchObject({ code: 'NoParent' });
  });

  it('attaches when the parent it waits for comes on the bus', async () => {
    const k = await link('patient');
    await k.l.setParent(busName('late')).catch(() => undefined);
    const waiting = k.l.waitAttached(10_000);
    const r = await root('late');
    await waiting;
    expect(k.l.parentUnique).toBe(r.node.uniqueName);
  });

  it('follows the Reparent signal of a parent that stops to the parent it names', async () => {
    const r = await root();
    const middle = new HiveNode({ name: 'middle', kind: 'filter', instance: TEST_INSTANCE, token: TEST_TOKEN, log: silent('test-middle'), busAddress: bus.address, parent: busName('mouth') });
    await middle.start();
    open.push(middle);
    const k = await link('leaf');
    await k.l.setParent(busName('middle'));
    await middle.stop();
    await waitFor(() => k.attached.length === 2, { what: 'attaching to the grandparent' });
    expect(k.l.parentName).toBe(busName('mouth'));
    expect(k.attached).toEqual([busName('middle'), busName('mouth')]);
    await waitFor(() => [...r.node.children.values()].some((c) => c.name === 'leaf'), { what: 'leaf among the mouth\'s children' });
  });
});
