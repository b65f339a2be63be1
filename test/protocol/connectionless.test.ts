// Children without a connection of their own (docs/protocol.md#a-node-without-a-connection): Join,
// SendAs, Renew, Leave, the parent holding the child's bus name and answering for it, MoveChild.
// Every call a "child" makes here goes over a fresh connection that closes afterwards, as each
// `gdbus call` does.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import dbus from 'dbus-next';
import { startPrivateBus, startTestRoot, type PrivateBus, type TestRoot } from '../helpers/bus.js';
import { spawnNode, stopAllNodes, TEST_INSTANCE, TEST_TOKEN } from '../helpers/node-process.js';
import { fixture } from '../helpers/paths.js';
import { waitFor } from '../helpers/wait.js';
import { line } from '../../protocol/hive-message.js';
import { decode, type WireMessage } from '../../protocol/codec.js';
import { createLogger } from '../../protocol/logger.js';
import { nodeBusName, NODE_INTERFACE, NODE_PATH } from '../../protocol/names.js';
import { HiveNode } from '../../protocol/sdk/node.js';
import { DBUS, addMatch, callWithDeadline, connectBus, nameOwner, type DBusMessage, type MessageBus } from '../../protocol/sdk/bus.js';

const { Variant } = dbus;
const busName = (n: string) => nodeBusName(TEST_INSTANCE, n);
let bus: PrivateBus;
let client: MessageBus;
let roots: TestRoot[] = [];
let extra: HiveNode[] = [];

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
  for (const n of extra) await n.stop();
  roots = [];
  extra = [];
});

async function root(name = 'mouth'): Promise<TestRoot> {
  const r = await startTestRoot(bus.address, name);
  roots.push(r);
  return r;
}

/** One call on a connection of its own, closed afterwards: what `gdbus call` does. */
async function oneShot(destination: string, member: string, signature: string, body: unknown[], iface = NODE_INTERFACE): Promise<DBusMessage> {
  const c = await connectBus(bus.address);
  try {
    return await callWithDeadline(c, { destination, path: NODE_PATH, interface: iface, member, signature, body }, 8000);
  } finally {
    c.disconnect();
  }
}

const info = (run = 'run-1', more: Record<string, InstanceType<typeof Variant>> = {}) => ({ run: new Variant('s', run), ...more });

async function join(parent: string, name = 'shell', run = 'run-1', token = TEST_TOKEN): Promise<{ key: string; lease: number }> {
  const reply = await oneShot(busName(parent), 'Join', 'ssa{sv}', [name, token, info(run, { commands: new Variant('a(ss)', [['shping', 'shping — answers shpong']]) })]);
  const [key, lease] = reply.body as [string, number];
  return { key, lease };
}

function reply(id: string, text = 'PRIVMSG #chan :shpong'): WireMessage {
  return [[line(text)], {
    'hive.network': new Variant('s', 'net'), 'hive.reply_to': new Variant('s', id),
    'hive.origin': new Variant('s', 'shell'), 'hive.path': new Variant('as', ['shell']),
  }] as WireMessage;
}

const sendAs = (parent: string, key: string, wire: WireMessage) => oneShot(busName(parent), 'SendAs', 's(aaya{sv})', [key, wire]);

async function props(destination: string): Promise<Record<string, unknown>> {
  const r = await oneShot(destination, 'GetAll', 's', [NODE_INTERFACE], 'org.freedesktop.DBus.Properties');
  return Object.fromEntries(Object.entries(r.body[0] as Record<string, { value: unknown }>).map(([k, v]) => [k, v.value]));
}

/** The signals of org.hive.Node1 that `from` (a bus name) emits, as the client sees them. */
async function signalsOf(from: string): Promise<{ member: string; body: unknown[] }[]> {
  const unique = await nameOwner(client, from);
  const seen: { member: string; body: unknown[] }[] = [];
  await addMatch(client, `type='signal',sender='${unique}',interface='${NODE_INTERFACE}'`);
  client.on('message', (m: DBusMessage) => { if (m.sender === unique && m.interface === NODE_INTERFACE) seen.push({ member: m.member, body: m.body }); });
  return seen;
}

/** Every owner the bus name `name` has had from now on ('' when none). */
async function ownersOf(name: string): Promise<string[]> {
  const owners: string[] = [];
  await addMatch(client, `type='signal',sender='${DBUS.name}',interface='${DBUS.iface}',member='NameOwnerChanged',arg0='${name}'`);
  client.on('message', (m: DBusMessage) => { if (m.member === 'NameOwnerChanged' && m.body[0] === name) owners.push(m.body[2] as string); });
  return owners;
}

describe('a child without a connection', () => {
  it('joins with the token, is listed, holds its bus name through its parent and sends up with its key', async () => {
    const r = await root();
    const { key, lease } = await join('mouth');
    expect(key).toMatch(/^[0-9a-f]{32}$/);
    expect(lease).toBe(30);
    expect([...r.node.children.values()]).toEqual([{ name: 'shell', unique: busName('shell') }]);
    expect(await nameOwner(client, busName('shell'))).toBe(r.node.uniqueName);
    expect((await props(busName('mouth'))).Children).toEqual([['shell', busName('shell')]]);

    const id = 'mouth-test-1';
    await sendAs('mouth', key, reply(id));
    const up = await r.replyTo(id);
    expect(up.from).toBe('shell');
    expect(up.lines.map(String)).toEqual(['PRIVMSG #chan :shpong']);
    expect(up.meta['hive.origin']).toBe('shell');
  });

  it('is answered for at its bus name: properties for hive tree and help, and no other method', async () => {
    const r = await root();
    const { key } = await join('mouth');
    r.node.emit({ lines: [line(':bob!b@h PRIVMSG #chan :hi')], meta: { 'hive.network': 'net' } });
    await sendAs('mouth', key, reply('x'));
    const p = await props(busName('shell'));
    expect(p).toMatchObject({ Name: 'shell', Kind: 'responder', Parent: busName('mouth'), Children: [], Commands: [['shping', 'shping — answers shpong']] });
    expect(p.Counters).toEqual({ in: 1n, out: 1n, dropped: 0n, errors: 0n });
    expect((p.Details as Record<string, { value: unknown }>).connectionless?.value).toBe(true);
    // The parent's own properties are unchanged at its own name.
    expect((await props(busName('mouth'))).Name).toBe('mouth');
    await expect(oneShot(busName('shell'), 'Send', '(aaya{sv})', [reply('y')])).rejects.toMatchObject({ dbusName: 'org.hive.Error.InvalidArgs' });
    const xml = (await oneShot(busName('shell'), 'Introspect', '', [], 'org.freedesktop.DBus.Introspectable')).body[0] as string;
    expect(xml).toContain('<method name="SendAs">');
  });

  it('makes its parent emit Message: it counts as a child', async () => {
    const r = await root();
    const signals = await signalsOf(busName('mouth'));
    r.node.emit({ lines: [line(':bob!b@h PRIVMSG #chan :before')], meta: { 'hive.network': 'net' } });
    await join('mouth');
    r.node.emit({ lines: [line(':bob!b@h PRIVMSG #chan :after')], meta: { 'hive.network': 'net' } });
    await waitFor(() => signals.some((s) => s.member === 'Message'), { what: 'a Message signal' });
    const texts = signals.filter((s) => s.member === 'Message').map((s) => decode(s.body[1] as WireMessage).lines.map(String));
    expect(texts).toEqual([[':bob!b@h PRIVMSG #chan :after']]);
  });

  it('refuses a wrong token, a bad name, a missing run and a kind that could have children', async () => {
    const r = await root();
    await expect(join('mouth', 'shell', 'run-1', 'wrong')).rejects.toMatchObject({ dbusName: 'org.hive.Error.BadToken' });
    await expect(join('mouth', 'not a name')).rejects.toMatchObject({ dbusName: 'org.hive.Error.InvalidArgs' });
    await expect(join('mouth', 'mouth')).rejects.toMatchObject({ dbusName: 'org.hive.Error.InvalidArgs' });
    await expect(oneShot(busName('mouth'), 'Join', 'ssa{sv}', ['shell', TEST_TOKEN, {}])).rejects.toMatchObject({ dbusName: 'org.hive.Error.InvalidArgs' });
    await expect(oneShot(busName('mouth'), 'Join', 'ssa{sv}', ['shell', TEST_TOKEN, info('r', { kind: new Variant('s', 'filter') })])).rejects.toMatchObject({ dbusName: 'org.hive.Error.InvalidArgs' });
    await expect(oneShot(busName('mouth'), 'Join', 'ssa{sv}', ['shell', TEST_TOKEN, { run: new Variant('u', 3) }])).rejects.toMatchObject({ dbusName: 'org.hive.Error.InvalidArgs' });
    await expect(oneShot(busName('mouth'), 'Join', 'ss', ['shell', TEST_TOKEN])).rejects.toMatchObject({ dbusName: 'org.hive.Error.InvalidArgs' });
    expect(r.node.children.size).toBe(0);
    expect(await nameOwner(client, busName('shell')).catch(() => undefined)).toBeUndefined();
  });

  it('refuses SendAs and Renew with an unknown key (NotChild), and bad messages (InvalidMessage), counting them', async () => {
    const r = await root();
    const { key } = await join('mouth');
    const before = r.node.counters.errors;
    await expect(sendAs('mouth', 'f'.repeat(32), reply('a'))).rejects.toMatchObject({ dbusName: 'org.hive.Error.NotChild' });
    await expect(oneShot(busName('mouth'), 'Renew', 's', ['nope'])).rejects.toMatchObject({ dbusName: 'org.hive.Error.NotChild' });
    await expect(sendAs('mouth', key, [[line('PRIVMSG #c :a\r\nQUIT')], { 'hive.network': new Variant('s', 'net') }] as WireMessage)).rejects.toMatchObject({ dbusName: 'org.hive.Error.InvalidMessage' });
    await expect(oneShot(busName('mouth'), 'SendAs', 'ss', [key, 'PRIVMSG #c :hi'])).rejects.toMatchObject({ dbusName: 'org.hive.Error.InvalidMessage' });
    // The token is not a key.
    await expect(sendAs('mouth', TEST_TOKEN, reply('b'))).rejects.toMatchObject({ dbusName: 'org.hive.Error.NotChild' });
    expect(r.node.counters.errors - before).toBe(5);
    expect(r.received).toEqual([]);
    expect(((await props(busName('shell'))).Counters as Record<string, bigint>).errors).toBe(1n);
    expect((await oneShot(busName('mouth'), 'Renew', 's', [key])).body).toEqual([30]);
  });

  it('is forgotten on Leave: its bus name is let go and its key no longer works', async () => {
    const r = await root();
    const { key } = await join('mouth');
    await oneShot(busName('mouth'), 'Leave', 's', [key]);
    expect(r.node.children.size).toBe(0);
    await waitFor(async () => (await nameOwner(client, busName('shell'))) === undefined, { what: 'the name let go' });
    await expect(sendAs('mouth', key, reply('c'))).rejects.toMatchObject({ dbusName: 'org.hive.Error.NotChild' });
    await oneShot(busName('mouth'), 'Leave', 's', [key]); // never fails
  });

  it('is forgotten when its lease runs out, and kept while it renews', async () => {
    const node = new HiveNode({ name: 'mouth', kind: 'mouth', instance: TEST_INSTANCE, token: TEST_TOKEN, log: createLogger({ node: 'test-lease', level: 'silent' }), busAddress: bus.address, leaseSeconds: 1 });
    await node.start();
    extra.push(node);
    const a = await join('mouth', 'kept');
    const b = await join('mouth', 'quiet');
    expect(a.lease).toBe(1);
    const deadline = Date.now() + 2500;
    while (Date.now() < deadline) {
      await oneShot(busName('mouth'), 'Renew', 's', [a.key]);
      await new Promise((res) => setTimeout(res, 300));
    }
    expect([...node.children.values()].map((c) => c.name)).toEqual(['kept']);
    expect(await nameOwner(client, busName('quiet'))).toBeUndefined();
    await expect(oneShot(busName('mouth'), 'Renew', 's', [b.key])).rejects.toMatchObject({ dbusName: 'org.hive.Error.NotChild' });
    await waitFor(() => node.children.size === 0, { timeout: 5000, what: 'the lease of kept to run out' });
  });

  it('joining again in the same run is a repeat; another run replaces it, and its name is taken anew', async () => {
    const r = await root();
    const owners = await ownersOf(busName('shell'));
    const first = await join('mouth', 'shell', 'run-1');
    expect((await join('mouth', 'shell', 'run-1')).key).toBe(first.key);
    const second = await join('mouth', 'shell', 'run-2');
    expect(second.key).not.toBe(first.key);
    await expect(sendAs('mouth', first.key, reply('d'))).rejects.toMatchObject({ dbusName: 'org.hive.Error.NotChild' });
    await sendAs('mouth', second.key, reply('e'));
    await r.replyTo('e');
    // The supervisor counts a node as up when its name gets an owner: a restart shows as one.
    await waitFor(() => owners.length >= 3, { what: `three owner changes (got ${JSON.stringify(owners)})` });
    expect(owners).toEqual([r.node.uniqueName, '', r.node.uniqueName]);
    expect(r.node.children.size).toBe(1);
  });

  it('gives way to a child with a connection of the same name, and lets its name go', async () => {
    const r = await root();
    await join('mouth', 'echo');
    const node = spawnNode({ name: 'echo', command: ['node', fixture('passthrough')], bus: bus.address, parent: busName('mouth') });
    await waitFor(() => [...r.node.children.values()].some((c) => c.name === 'echo' && c.unique.startsWith(':')), { what: 'echo attached' });
    expect([...r.node.children.values()].map((c) => c.name)).toEqual(['echo']);
    expect(await nameOwner(client, busName('echo'))).not.toBe(r.node.uniqueName);
    node.kill('SIGTERM');
  });

  it('is moved by SetParent on its bus name: MoveChild tells it, and the call returns once the new parent holds it', async () => {
    const mouth = await root();
    const other = await root('other');
    const signals = await signalsOf(busName('mouth'));
    await join('mouth');
    const setParent = (to: string, token = TEST_TOKEN) => oneShot(busName('shell'), 'SetParent', 'ss', [to, token]);
    await expect(setParent(busName('other'), 'wrong')).rejects.toMatchObject({ dbusName: 'org.hive.Error.BadToken' });
    await setParent(busName('mouth')); // already there: nothing to do
    const moved = setParent(busName('other'));
    // The child sees MoveChild among its parent's signals and joins the parent it names.
    await waitFor(() => signals.find((s) => s.member === 'MoveChild'), { what: 'MoveChild' });
    expect(signals.filter((s) => s.member === 'MoveChild').map((s) => s.body)).toEqual([['shell', busName('other')]]);
    const { key } = await join('other');
    await moved;
    expect(await nameOwner(client, busName('shell'))).toBe(other.node.uniqueName);
    await waitFor(() => mouth.node.children.size === 0, { what: 'mouth to forget shell' });
    expect([...other.node.children.values()].map((c) => c.name)).toEqual(['shell']);
    await sendAs('other', key, reply('f'));
    expect((await other.replyTo('f')).from).toBe('shell');
  });

  it('SetParent fails with Timeout when the child does not follow', async () => {
    await root();
    await root('other');
    await join('mouth');
    await expect(oneShot(busName('shell'), 'SetParent', 'ss', [busName('other'), TEST_TOKEN])).rejects.toMatchObject({ dbusName: 'org.hive.Error.Timeout' });
  });

  it('keeps its bus name owned all along when it follows Reparent from a parent that stops', async () => {
    const mouth = await root();
    const relay = new HiveNode({ name: 'relay', kind: 'filter', instance: TEST_INSTANCE, token: TEST_TOKEN, log: createLogger({ node: 'test-relay', level: 'silent' }), busAddress: bus.address, parent: busName('mouth') });
    await relay.start();
    const signals = await signalsOf(busName('relay'));
    await join('relay');
    const owners = await ownersOf(busName('shell'));
    const stopped = relay.stop();
    // The child follows Reparent to the grandparent; the relay waits for that before it goes.
    const reparent = await waitFor(() => signals.find((s) => s.member === 'Reparent'), { what: 'Reparent' });
    expect(reparent.body).toEqual([busName('mouth')]);
    const { key } = await join('mouth');
    await stopped;
    await waitFor(() => owners.length >= 1, { what: 'the name to move' });
    expect(owners).toEqual([mouth.node.uniqueName]);
    await sendAs('mouth', key, reply('g'));
    await mouth.replyTo('g');
  });

  it('works beside a child attached with its own connection', async () => {
    const r = await root();
    spawnNode({ name: 'echo', command: ['node', fixture('passthrough')], bus: bus.address, parent: busName('mouth') });
    await waitFor(() => r.node.children.size === 1, { what: 'echo attached' });
    const { key } = await join('mouth');
    expect([...r.node.children.values()].map((c) => c.name).sort()).toEqual(['echo', 'shell']);
    await sendAs('mouth', key, reply('h'));
    await r.replyTo('h');
    // A connection that merely joined is not an attached child: Send from it is still refused.
    await expect(oneShot(busName('mouth'), 'Send', '(aaya{sv})', [reply('i')])).rejects.toMatchObject({ dbusName: 'org.hive.Error.NotChild' });
    expect(r.node.counters.in).toBe(1);
  });
});
