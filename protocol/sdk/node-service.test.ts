// Serving org.hive.Node1: the header gate's decisions, and the service on a real private bus
// (properties, Replay, SetParent, and a call refused unread).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrivateBus, type PrivateBus } from '../../tree-supervisor/private-bus.js';
import { TEST_INSTANCE, TEST_TOKEN } from '../../test/helpers/node-process.js';
import { encode, type WireMessage } from '../codec.js';
import { line } from '../hive-message.js';
import { LIMITS } from '../limits.js';
import { createLogger } from '../logger.js';
import { NODE_INTERFACE, NODE_PATH, nodeBusName } from '../names.js';
import { DBUS, MessageType, Variant, callHiveMethod, callWithDeadline, connectBus, type MessageBus } from './bus.js';
import type { GateHeader } from './bus-gate.js';
import { MatchRules, takeName } from './bus-names.js';
import { ChildRegistry } from './child-registry.js';
import { ConnectionlessChildren } from './connectionless.js';
import { createContext, type Counters } from './node-context.js';
import { NodeService } from './node-service.js';
import { ReplayBuffer } from './replay-buffer.js';

const NAME = nodeBusName(TEST_INSTANCE, 'svc');

function service(bus: () => MessageBus) {
  const counters: Counters = { in: 0, out: 0, dropped: 0, errors: 0 };
  const ctx = createContext({ name: 'svc', busName: NAME, instance: TEST_INSTANCE, token: TEST_TOKEN, log: createLogger({ node: 'test-svc', level: 'silent' }), counters, callTimeoutMs: 5000, bus, stopping: () => false });
  const rules = new MatchRules(bus);
  const up = async () => undefined;
  const registry: ChildRegistry = new ChildRegistry(ctx, { rules, up, attached: (n) => connectionless.replacedByConnection(n), widen: async () => undefined, lastNumbers: () => ({}) });
  const connectionless = new ConnectionlessChildren(ctx, { registry, rules, up, widen: async () => undefined });
  const replay = new ReplayBuffer(8);
  const parentSetTo: string[] = [];
  const svc = new NodeService(ctx, {
    kind: 'filter', registry, connectionless, replay,
    parentName: () => 'org.hive.t.up', parentUnique: () => ':1.999',
    setParent: async (p) => { parentSetTo.push(p); },
    commands: () => [['svc', 'serves']],
    details: () => ({ mood: 'fine' }),
  });
  return { svc, registry, replay, counters, parentSetTo };
}

const header = (h: Partial<GateHeader>): GateHeader => ({ type: MessageType.METHOD_CALL, serial: 1, bodyLength: 10, interface: NODE_INTERFACE, ...h });

describe('NodeService.gate', () => {
  const { svc, registry } = service(() => { throw new Error('no bus here'); });
  registry.add(':1.5', 'kid');

  it('reads Send and Replay only from a child', () => {
    expect(svc.gate(header({ member: 'Send', sender: ':1.6' }))).toBe('NotChild');
    expect(svc.gate(header({ member: 'Replay', sender: ':1.6', interface: undefined }))).toBe('NotChild');
    expect(svc.gate(header({ member: 'Send', sender: ':1.5' }))).toBeUndefined();
    expect(svc.gate(header({ member: 'Attach', sender: ':1.6' }))).toBeUndefined();
  });

  it('does not read a call larger than any the node accepts, nor a large signal from anyone but the parent and the bus', () => {
    const big = LIMITS.maxCallBodyBytes + 1;
    expect(svc.gate(header({ member: 'Send', sender: ':1.5', bodyLength: big }))).toBe('TooLarge');
    expect(svc.gate(header({ type: MessageType.SIGNAL, member: 'Message', sender: ':1.6', bodyLength: big }))).toBe('TooLarge');
    expect(svc.gate(header({ type: MessageType.SIGNAL, member: 'Message', sender: ':1.999', bodyLength: big }))).toBeUndefined();
    expect(svc.gate(header({ type: MessageType.SIGNAL, member: 'NameOwnerChanged', sender: DBUS.name, bodyLength: big }))).toBeUndefined();
  });
});

describe('NodeService on the bus', () => {
  let bus: PrivateBus;
  let conn: MessageBus;
  let caller: MessageBus;
  let s: ReturnType<typeof service>;
  beforeAll(async () => {
    bus = await startPrivateBus();
    s = service(() => conn);
    conn = await connectBus(bus.address, undefined, { check: (h) => s.svc.gate(h) });
    s.svc.serve();
    expect((await takeName(conn, NAME)).owned).toBe(true);
    caller = await connectBus(bus.address);
  });
  afterAll(async () => { caller?.disconnect(); conn?.disconnect(); await bus?.stop(); });
  const call = (member: string, signature = '', body: unknown[] = [], iface = NODE_INTERFACE) =>
    callWithDeadline(caller, { destination: NAME, path: NODE_PATH, interface: iface, member, signature, body }, 5000);

  it('publishes name, kind, parent, children, commands, counters and details', async () => {
    await call('Attach', 'ss', ['kid', TEST_TOKEN]);
    const all = (await call('GetAll', 's', [NODE_INTERFACE], 'org.freedesktop.DBus.Properties')).body[0] as Record<string, InstanceType<typeof Variant>>;
    const value = (k: string) => all[k]!.value;
    expect([value('Name'), value('Kind'), value('Parent')]).toEqual(['svc', 'filter', 'org.hive.t.up']);
    expect(value('Children')).toEqual([['kid', (caller as unknown as { name: string }).name]]);
    expect(value('Commands')).toEqual([['svc', 'serves']]);
    expect((value('Counters') as Record<string, bigint>).in).toBe(0n);
    expect((value('Details') as Record<string, InstanceType<typeof Variant>>).mood!.value).toBe('fine');
  });

  it('replays to a child what it missed, and refuses Replay to anyone else', async () => {
    const wire: WireMessage = encode({ lines: [line('PING :x')], meta: { 'hive.network': 'net', 'hive.seq': 5 } });
    s.replay.add('net', 5, wire, 'PRIVMSG');
    expect((await call('Replay', 'st', ['net', 4n])).body[0]).toHaveLength(1);
    const stranger = await connectBus(bus.address);
    try {
      await expect(callWithDeadline(stranger, { destination: NAME, path: NODE_PATH, interface: NODE_INTERFACE, member: 'Replay', signature: 'st', body: ['net', 0n] }, 5000))
        .rejects.toMatchObject({ dbusName: 'org.hive.Error.NotChild' });
      // Send from no child: refused unread by the gate, answered, counted.
      const before = s.counters.not_child ?? 0;
      await expect(callHiveMethod(stranger, { destination: NAME, path: NODE_PATH, interface: NODE_INTERFACE, member: 'Send' }, wire, 5000))
        .rejects.toMatchObject({ dbusName: 'org.hive.Error.NotChild' });
      expect(s.counters.not_child).toBe(before + 1);
    } finally {
      stranger.disconnect();
    }
  });

  it('SetParent needs the token, then hands the new parent on', async () => {
    await expect(call('SetParent', 'ss', ['org.hive.t.new', 'wrong'])).rejects.toMatchObject({ dbusName: 'org.hive.Error.BadToken' });
    await call('SetParent', 'ss', ['org.hive.t.new', TEST_TOKEN]);
    expect(s.parentSetTo).toEqual(['org.hive.t.new']);
  });
});
