// Children without a connection of their own, on a real private bus: a bare parent (a connection
// serving Join, Renew, SendAs, Leave and Attach from its parts) and one-shot callers, as `gdbus call` is.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startPrivateBus, type PrivateBus } from '../../tree-supervisor/private-bus.js';
import { TEST_INSTANCE, TEST_TOKEN } from '../../test/helpers/node-process.js';
import { waitFor } from '../../test/helpers/wait.js';
import { decode, encode, type WireMessage } from '../codec.js';
import { line } from '../hive-message.js';
import { createLogger } from '../logger.js';
import { NODE1 } from '../node1.js';
import { HIVE_MESSAGE_SIGNATURE, NODE_INTERFACE, NODE_PATH, nodeBusName } from '../names.js';
import { DBUS, MessageType, Variant, addMatch, callWithDeadline, connectBus, nameOwner, type DBusMessage, type MessageBus } from './bus.js';
import { MatchRules, takeName } from './bus-names.js';
import { ChildRegistry } from './child-registry.js';
import { ConnectionlessChildren, joinInfo } from './connectionless.js';
import { createContext, type ChildInfo, type Counters } from './node-context.js';
import { serveObject } from './service.js';

const v = (sig: string, value: unknown) => new Variant(sig, value);

describe('joinInfo', () => {
  it('needs the run, and takes kind and commands with their defaults', () => {
    expect(joinInfo({ run: v('s', 'r1') })).toEqual({ run: 'r1', kind: 'responder', commands: [] });
    expect(joinInfo({ run: v('s', 'r1'), kind: v('s', 'automaton'), commands: v('a(ss)', [['x', 'does x']]) }))
      .toEqual({ run: 'r1', kind: 'automaton', commands: [['x', 'does x']] });
  });

  it('refuses a missing run, a wrong type, a kind with children and too many commands, with InvalidArgs', () => {
    const infos: (Record<string, InstanceType<typeof Variant>> | undefined)[] = [undefined, {}, { run: v('s', 'x'.repeat(129)) }, { run: v('u', 1) }, { run: v('s', 'r'), kind: v('s', 'filter') },
      { run: v('s', 'r'), commands: v('a(ss)', Array.from({ length: 65 }, (_, i) => [`c${i}`, ''])) }, { run: v('s', 'r'), commands: v('a(ss)', [['', 'h']]) }];
    for (const info of infos) {
      expect(() => joinInfo(info)).toThrow(expect.objectContaining({ code: 'InvalidArgs' }));
    }
  });
});

describe('ConnectionlessChildren', () => {
  let bus: PrivateBus;
  let watcher: MessageBus;
  const stops: (() => unknown)[] = [];
  beforeAll(async () => { bus = await startPrivateBus(); watcher = await connectBus(bus.address); });
  afterAll(async () => { watcher?.disconnect(); await bus?.stop(); });
  afterEach(async () => { for (const s of stops.splice(0)) await s(); });

  const busName = (n: string) => nodeBusName(TEST_INSTANCE, n);

  /** A bare parent named `name`: its registry and connectionless children served on a connection of its own. */
  async function parent(name: string, leaseSeconds?: number) {
    const conn = await connectBus(bus.address);
    const counters: Counters = { in: 0, out: 0, dropped: 0, errors: 0 };
    const ctx = createContext({ name, busName: busName(name), instance: TEST_INSTANCE, token: TEST_TOKEN, log: createLogger({ node: `test-${name}`, level: 'silent' }), counters, callTimeoutMs: 5000, bus: () => conn, stopping: () => false });
    const rules = new MatchRules(() => conn);
    const up: { wire: WireMessage; child: ChildInfo }[] = [];
    const send = async (wire: WireMessage, child: ChildInfo) => { up.push({ wire, child }); };
    const registry: ChildRegistry = new ChildRegistry(ctx, { rules, up: send, attached: (n) => joined.replacedByConnection(n), widen: async () => undefined, lastNumbers: () => ({}) });
    const joined = new ConnectionlessChildren(ctx, { registry, rules, up: send, leaseSeconds, widen: async () => undefined });
    conn.addMethodHandler((m: DBusMessage) => joined.serveCall(m));
    serveObject(conn, {
      path: NODE_PATH, spec: NODE1, log: ctx.log, uncheckedSignatures: ['SendAs'], properties: () => ({}),
      methods: { Attach: (m) => registry.attach(m), Join: (m) => joined.join(m), Renew: (m) => joined.renew(m), SendAs: (m) => joined.sendAs(m), Leave: (m) => joined.leave(m) },
    });
    conn.on('message', (m: DBusMessage) => {
      if (m.type !== MessageType.SIGNAL || m.sender !== DBUS.name || m.member !== 'NameOwnerChanged') return;
      const [n, , owner] = m.body as [string, string, string];
      if (!joined.ownerChanged(n, owner)) registry.ownerChanged(n, owner);
    });
    expect((await takeName(conn, busName(name))).owned).toBe(true);
    stops.push(() => { joined.close(); conn.disconnect(); });
    return { conn, joined, registry, up, counters };
  }

  /** One call on a connection of its own, closed afterwards. */
  async function oneShot(destination: string, member: string, signature: string, body: unknown[], iface = NODE_INTERFACE): Promise<DBusMessage> {
    const c = await connectBus(bus.address);
    try { return await callWithDeadline(c, { destination, path: NODE_PATH, interface: iface, member, signature, body }, 8000); } finally { c.disconnect(); }
  }
  const join = async (to: string, name: string, run = 'run-1') =>
    (await oneShot(busName(to), 'Join', 'ssa{sv}', [name, TEST_TOKEN, { run: v('s', run), commands: v('a(ss)', [['shping', 'answers']]) }])).body as [string, number];

  it('joins with the token, holds the child\'s bus name and answers for it, sends up with the key, renews and leaves', async () => {
    const p = await parent('mouth');
    const [key, lease] = await join('mouth', 'shell');
    expect(lease).toBe(30);
    expect(await nameOwner(watcher, busName('shell'))).toBe((p.conn as unknown as { name: string }).name);
    expect([...p.registry.children.values()]).toEqual([{ name: 'shell', unique: busName('shell') }]);
    const props = await oneShot(busName('shell'), 'GetAll', 's', [NODE_INTERFACE], 'org.freedesktop.DBus.Properties');
    const all = props.body[0] as Record<string, InstanceType<typeof Variant>>;
    expect([all.Name!.value, all.Kind!.value, all.Parent!.value, all.Commands!.value]).toEqual(['shell', 'responder', busName('mouth'), [['shping', 'answers']]]);
    await oneShot(busName('mouth'), 'SendAs', `s${HIVE_MESSAGE_SIGNATURE}`, [key, encode({ lines: [line('PRIVMSG #a :shpong')], meta: { 'hive.id': 's1' } })]);
    expect(p.up.map((u) => [u.child.name, decode(u.wire).meta['hive.path']])).toEqual([['shell', ['shell']]]);
    expect((await oneShot(busName('mouth'), 'Renew', 's', [key])).body).toEqual([30]);
    expect(await join('mouth', 'shell')).toEqual([key, 30]); // the same run again: a repeat
    await oneShot(busName('mouth'), 'Leave', 's', [key]);
    expect(p.joined.size).toBe(0);
    await waitFor(async () => (await nameOwner(watcher, busName('shell'))) === undefined, { what: 'the name let go' });
    await expect(oneShot(busName('mouth'), 'Renew', 's', [key])).rejects.toMatchObject({ dbusName: 'org.hive.Error.NotChild' });
  });

  it('refuses Join with a wrong token, and SendAs with the wrong signature', async () => {
    await parent('mouth');
    await expect(oneShot(busName('mouth'), 'Join', 'ssa{sv}', ['shell', 'wrong', { run: v('s', 'r') }])).rejects.toMatchObject({ dbusName: 'org.hive.Error.BadToken' });
    const [key] = await join('mouth', 'shell');
    await expect(oneShot(busName('mouth'), 'SendAs', 'ss', [key, 'x'])).rejects.toMatchObject({ dbusName: 'org.hive.Error.InvalidMessage' });
  });

  it('forgets a child whose lease ran out and lets its name go', async () => {
    const p = await parent('mouth', 1);
    const [, lease] = await join('mouth', 'quiet');
    expect(lease).toBe(1);
    await waitFor(() => p.joined.size === 0, { timeout: 5000, what: 'the lease to run out' });
    expect(p.registry.children.size).toBe(0);
    await waitFor(async () => (await nameOwner(watcher, busName('quiet'))) === undefined, { what: 'the name let go' });
  });

  it('gives way to a child of the same name that attaches with a connection of its own', async () => {
    const p = await parent('mouth');
    await join('mouth', 'shell');
    const own = await connectBus(bus.address);
    stops.push(() => own.disconnect());
    await callWithDeadline(own, { destination: busName('mouth'), path: NODE_PATH, interface: NODE_INTERFACE, member: 'Attach', signature: 'ss', body: ['shell', TEST_TOKEN] }, 5000);
    expect(p.joined.size).toBe(0);
    expect([...p.registry.children.values()].map((c) => c.unique)).toEqual([(own as unknown as { name: string }).name]);
  });

  it('answers SetParent on the child with MoveChild, and returns once the new parent holds the name', async () => {
    await parent('mouth');
    const other = await parent('other');
    await join('mouth', 'mover');
    const moves: unknown[] = [];
    await addMatch(watcher, `type='signal',interface='${NODE_INTERFACE}',member='MoveChild'`);
    watcher.on('message', (m: DBusMessage) => { if (m.member === 'MoveChild') moves.push(m.body); });
    const setParent = oneShot(busName('mover'), 'SetParent', 'ss', [busName('other'), TEST_TOKEN]);
    await waitFor(() => moves.length === 1, { what: 'MoveChild' });
    expect(moves[0]).toEqual(['mover', busName('other')]);
    await join('other', 'mover'); // the child follows: its new parent takes the name over
    await setParent;
    expect(await nameOwner(watcher, busName('mover'))).toBe((other.conn as unknown as { name: string }).name);
  });
});
