// Children attached with a connection of their own, on a real private bus: a bare parent (a
// connection serving Attach, Detach and Send from a ChildRegistry) and children calling it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrivateBus, type PrivateBus } from '../../tree-supervisor/private-bus.js';
import { TEST_INSTANCE, TEST_TOKEN } from '../../test/helpers/node-process.js';
import { waitFor } from '../../test/helpers/wait.js';
import { decode, encode, type WireMessage } from '../codec.js';
import { line } from '../hive-message.js';
import { createLogger } from '../logger.js';
import { NODE1 } from '../node1.js';
import { NODE_INTERFACE, NODE_PATH, nodeBusName } from '../names.js';
import { DBUS, MessageType, Variant, callHiveMethod, callWithDeadline, connectBus, type DBusMessage, type MessageBus } from './bus.js';
import { MatchRules, takeName } from './bus-names.js';
import { ChildRegistry } from './child-registry.js';
import { createContext, type ChildInfo, type Counters } from './node-context.js';
import { serveObject } from './service.js';

let bus: PrivateBus;
let parent: MessageBus;
let registry: ChildRegistry;
let counters: Counters;
const up: { wire: WireMessage; child: ChildInfo }[] = [];
const attachedNames: string[] = [];
const conns: MessageBus[] = [];
const PARENT = nodeBusName(TEST_INSTANCE, 'parent');

beforeAll(async () => {
  bus = await startPrivateBus();
  parent = await connectBus(bus.address);
  counters = { in: 0, out: 0, dropped: 0, errors: 0 };
  const ctx = createContext({ name: 'parent', busName: PARENT, instance: TEST_INSTANCE, token: TEST_TOKEN, log: createLogger({ node: 'test-parent', level: 'silent' }), counters, callTimeoutMs: 5000, bus: () => parent, stopping: () => false });
  registry = new ChildRegistry(ctx, {
    rules: new MatchRules(() => parent),
    up: async (wire, child) => { up.push({ wire, child }); },
    attached: (name) => attachedNames.push(name),
    widen: async () => undefined,
    lastNumbers: () => ({ net: 42n }),
  });
  serveObject(parent, {
    path: NODE_PATH, spec: NODE1, log: ctx.log, uncheckedSignatures: ['Send'], properties: () => ({}),
    methods: { Attach: (m) => registry.attach(m), Detach: (m) => registry.detach(m), Send: (m) => registry.send(m) },
  });
  parent.on('message', (m: DBusMessage) => {
    if (m.type === MessageType.SIGNAL && m.sender === DBUS.name && m.member === 'NameOwnerChanged') registry.ownerChanged(m.body[0] as string, m.body[2] as string);
  });
  expect((await takeName(parent, PARENT)).owned).toBe(true);
});
afterAll(async () => { for (const c of conns) c.disconnect(); parent?.disconnect(); await bus?.stop(); });

async function child(): Promise<MessageBus> { const c = await connectBus(bus.address); conns.push(c); return c; }
const unique = (c: MessageBus) => (c as unknown as { name: string }).name;
const call = (c: MessageBus, member: string, signature = '', body: unknown[] = []) =>
  callWithDeadline(c, { destination: PARENT, path: NODE_PATH, interface: NODE_INTERFACE, member, signature, body }, 5000);
const send = (c: MessageBus, wire: WireMessage) => callHiveMethod(c, { destination: PARENT, path: NODE_PATH, interface: NODE_INTERFACE, member: 'Send' }, wire, 5000);
const names = () => [...registry.children.values()].map((c) => c.name).sort();

describe('ChildRegistry', () => {
  it('lists a child that attached with the token, hands its Send up stamped with its name, and forgets it when it vanishes', async () => {
    const c = await child();
    const attached = await call(c, 'Attach', 'ss', ['kid', TEST_TOKEN]);
    // Its answer: the last number passed down per network, where the child's replay starts if it has none.
    expect(attached.signature).toBe('a{st}');
    expect(attached.body[0]).toEqual({ net: 42n });
    expect(registry.children.get(unique(c))).toEqual({ name: 'kid', unique: unique(c) });
    expect(attachedNames).toContain('kid');
    await send(c, encode({ lines: [line('PRIVMSG #a :hi')], meta: { 'hive.id': 'x1', 'hive.origin': 'mouth' } }));
    const got = up.find((u) => decode(u.wire).meta['hive.id'] === 'x1')!;
    expect(got.child.name).toBe('kid');
    expect(decode(got.wire).meta).toMatchObject({ 'hive.path': ['kid'], 'hive.origin': 'kid' });
    expect(counters.forged_origin).toBe(1);
    c.disconnect();
    await waitFor(() => !registry.has(unique(c)), { what: 'the vanished child forgotten' });
  });

  it('refuses Send from a connection that is no child with NotChild, and Attach with a wrong token or name', async () => {
    const c = await child();
    const before = counters.not_child ?? 0;
    await expect(send(c, encode({ lines: [line('PRIVMSG #a :hi')], meta: {} }))).rejects.toMatchObject({ dbusName: 'org.hive.Error.NotChild' });
    expect(counters.not_child).toBe(before + 1);
    await expect(call(c, 'Attach', 'ss', ['kid', 'wrong'])).rejects.toMatchObject({ dbusName: 'org.hive.Error.BadToken' });
    await expect(call(c, 'Attach', 'ss', ['no.dots', TEST_TOKEN])).rejects.toMatchObject({ dbusName: 'org.hive.Error.InvalidArgs' });
    expect(registry.has(unique(c))).toBe(false);
  });

  it('refuses an invalid message from a child with InvalidMessage, and keeps the child', async () => {
    const c = await child();
    await call(c, 'Attach', 'ss', ['sloppy', TEST_TOKEN]);
    const bad: WireMessage = [[Buffer.from('PRIVMSG #a :x\r\nQUIT')], { 'hive.id': new Variant('s', 'y') }];
    await expect(send(c, bad)).rejects.toMatchObject({ dbusName: 'org.hive.Error.InvalidMessage' });
    expect(registry.has(unique(c))).toBe(true);
  });

  it('a second attach under the same name replaces the first; Detach forgets it', async () => {
    const [a, b] = [await child(), await child()];
    await call(a, 'Attach', 'ss', ['twin', TEST_TOKEN]);
    await call(b, 'Attach', 'ss', ['twin', TEST_TOKEN]);
    expect(registry.has(unique(a))).toBe(false);
    expect(registry.children.get(unique(b))?.name).toBe('twin');
    await expect(send(a, encode({ lines: [line('PRIVMSG #a :hi')], meta: {} }))).rejects.toMatchObject({ dbusName: 'org.hive.Error.NotChild' });
    await call(b, 'Detach');
    expect(names()).not.toContain('twin');
  });
});
