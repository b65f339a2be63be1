// A filtered connection per node (issue 16): through its xdg-dbus-proxy a node attaches to its
// parent, hears it, sends up and is re-parented to its grandparent as before; every way out of its
// place that the issue tried (another node's name, the supervisor, monitoring, eavesdropping, a
// sibling, another interface of an ancestor) is refused by the proxy. Real dbus-daemon, real proxy.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import dbus from 'dbus-next';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPrivateBus, startTestRoot, type PrivateBus, type TestRoot } from '../helpers/bus.js';
import { TEST_INSTANCE, TEST_TOKEN } from '../helpers/node-process.js';
import { waitFor } from '../helpers/wait.js';
import { MESSAGE_SIGNAL_SIGNATURE, nodeBusName, NODE_INTERFACE, NODE_PATH } from '../../protocol/names.js';
import { line } from '../../protocol/hive-message.js';
import { callBus, callWithDeadline, connectBus, type MessageBus } from '../../protocol/sdk/bus.js';
import { HiveNode } from '../../protocol/sdk/node.js';
import { createLogger } from '../../protocol/logger.js';
import { proxyArgs, startBusProxy, type BusProxy } from '../../tree-supervisor/bus-proxy.js';

const busName = (n: string) => nodeBusName(TEST_INSTANCE, n);
let bus: PrivateBus;
let dir: string;
const cleanup: (() => Promise<unknown> | unknown)[] = [];

beforeAll(async () => {
  bus = await startPrivateBus();
  dir = await mkdtemp(join(tmpdir(), 'hive-proxy-'));
});
afterAll(async () => { await bus?.stop(); await rm(dir, { recursive: true, force: true }); });
afterEach(async () => { for (const c of cleanup.splice(0).reverse()) await c(); });

let seq = 0;
async function proxyFor(name: string, ancestors: string[], descendants: string[] = []): Promise<BusProxy> {
  const p = await startBusProxy(bus.address, join(dir, `${name}-${++seq}.sock`), { instance: TEST_INSTANCE, name, ancestors, descendants });
  cleanup.push(() => p.stop());
  return p;
}
async function raw(address: string): Promise<MessageBus> {
  const r = await connectBus(address);
  cleanup.push(() => r.disconnect());
  return r;
}
async function root(name = 'mouth'): Promise<TestRoot> {
  const r = await startTestRoot(bus.address, name);
  cleanup.push(() => r.stop());
  return r;
}
async function node(name: string, address: string, parent: string, kind: 'responder' | 'filter' = 'responder'): Promise<HiveNode> {
  const n = new HiveNode({ name, kind, instance: TEST_INSTANCE, token: TEST_TOKEN, busAddress: address, parent: busName(parent), log: createLogger({ node: `test-${name}`, level: process.env.PROXY_DEBUG ? 'debug' : 'silent' }) });
  cleanup.push(() => n.stop().catch(() => undefined));
  await n.start();
  return n;
}
const errorName = (p: Promise<unknown>) => p.then(() => 'no error', (e: { type?: string; dbusName?: string; message?: string }) => [e.type, e.dbusName, e.message].filter(Boolean).join(' '));

describe('the policy', () => {
  it('owns its own name and its descendants\', talks Node1 to its ancestors only', () => {
    expect(proxyArgs({ instance: 'i', name: 'dice', ancestors: ['auth', 'mouth'], descendants: ['sh'] })).toEqual([
      '--filter', '--sloppy-names', '--own=org.hive.i.dice', '--own=org.hive.i.sh',
      '--call=org.hive.i.auth=org.hive.Node1.*@/org/hive/Node', '--broadcast=org.hive.i.auth=org.hive.Node1.*@/org/hive/Node',
      '--call=org.hive.i.mouth=org.hive.Node1.*@/org/hive/Node', '--broadcast=org.hive.i.mouth=org.hive.Node1.*@/org/hive/Node',
      '--call=org.hive.i.Supervisor=org.hive.Supervisor1.Vouch@/org/hive/Supervisor',
      '--call=org.hive.i.Supervisor=org.hive.Supervisor1.CheckParent@/org/hive/Supervisor',
    ]);
  });
});

describe('a node behind its proxy', () => {
  it('attaches, hears its parent, sends up, and is called by its parent', async () => {
    const mouth = await root();
    const p = await proxyFor('dice', ['mouth']);
    const dice = await node('dice', p.address, 'mouth');
    const heard: string[] = [];
    dice.onDown = (w) => { heard.push(w[0][0]!.toString()); };
    await waitFor(() => [...mouth.node.children.values()].some((c) => c.name === 'dice'), { what: 'dice attached through its proxy' });
    mouth.node.emit({ lines: [line('PRIVMSG #c :!roll')], meta: { 'hive.network': 'net' } });
    await waitFor(() => heard.includes('PRIVMSG #c :!roll'), { what: 'the broadcast through the proxy' });
    await dice.send({ lines: [line('PRIVMSG #c :4')], meta: { 'hive.network': 'net' } });
    await waitFor(() => mouth.received.some((m) => m.lines[0]!.toString() === 'PRIVMSG #c :4'), { what: 'the reply at the mouth' });
    // The supervisor (any connection) reads its properties through the proxy.
    const direct = await raw(bus.address);
    const kind = await callWithDeadline(direct, { destination: busName('dice'), path: NODE_PATH, interface: 'org.freedesktop.DBus.Properties', member: 'Get', signature: 'ss', body: [NODE_INTERFACE, 'Kind'] }, 5000);
    expect((kind.body[0] as { value: string }).value).toBe('responder');
  });

  it('moves up to its grandparent when its parent dies, and hears it there', async () => {
    const mouth = await root();
    const auth = await root('auth');
    const p = await proxyFor('dice', ['auth', 'mouth']);
    const dice = await node('dice', p.address, 'auth');
    await waitFor(() => [...auth.node.children.values()].some((c) => c.name === 'dice'), { what: 'dice under auth' });
    await auth.node.setParent(busName('mouth')).catch(() => undefined);
    await auth.stop();
    // Attached as the mouth sees it (the child counts itself attached a moment before the mouth has it listed).
    await waitFor(() => dice.parent === busName('mouth') && [...mouth.node.children.values()].some((c) => c.name === 'dice'), { what: 'dice re-parented to the mouth through its proxy', timeout: 15_000 });
    const heard: string[] = [];
    dice.onDown = (w) => { heard.push(w[0][0]!.toString()); };
    mouth.node.emit({ lines: [line('PRIVMSG #c :after')], meta: { 'hive.network': 'net' } });
    await waitFor(() => heard.includes('PRIVMSG #c :after'), { what: 'the grandparent\'s broadcast' });
  });
});

describe('what the proxy refuses', () => {
  it('another node\'s name, a name outside the hive, the supervisor, a sibling, an ancestor\'s other interfaces, monitoring and eavesdropping', async () => {
    await root();
    const sibling = await root('sibling');
    const supervisor = await raw(bus.address);
    await callBus(supervisor, 'RequestName', 'su', [busName('Supervisor'), 4]);
    const p = await proxyFor('evil', ['mouth']);
    const evil = await raw(p.address);

    // Its own name: yes. Anyone else's (a node that is gone, a new one): no.
    expect((await callBus(evil, 'RequestName', 'su', [busName('evil'), 4])).body[0]).toBe(1);
    for (const n of [busName('ping'), 'org.example.Other']) {
      expect(await errorName(callBus(evil, 'RequestName', 'su', [n, 4])), n).toMatch(/ServiceUnknown|AccessDenied/);
    }
    // The control plane and a sibling are not there for it.
    const call = (destination: string, iface = NODE_INTERFACE, member = 'Detach', path = NODE_PATH) =>
      errorName(callWithDeadline(evil, { destination, path, interface: iface, member }, 3000));
    const NOT_THERE = /ServiceUnknown|NameHasNoOwner/;
    // The supervisor is there for Vouch only (a parent checks a child's credential): every other member is refused.
    for (const member of ['Shutdown', 'Load', 'Authenticate', 'Tree']) {
      expect(await call(busName('Supervisor'), 'org.hive.Supervisor1', member, '/org/hive/Supervisor'), member).toMatch(/AccessDenied/);
    }
    expect(await call(busName('Supervisor'), 'org.hive.Supervisor1', 'Vouch', '/org/hive/Supervisor'), 'Vouch passes the proxy').not.toMatch(/AccessDenied|ServiceUnknown/);
    expect(await call(sibling.node.uniqueName)).toMatch(NOT_THERE);
    expect(await call(busName('sibling'))).toMatch(NOT_THERE);
    // The same sibling straight on the bus is there (it answers, with its own refusal).
    expect(await errorName(callWithDeadline(supervisor, { destination: busName('sibling'), path: NODE_PATH, interface: NODE_INTERFACE, member: 'Detach' }, 3000))).not.toMatch(NOT_THERE);
    // Its parent, but not Node1: refused.
    expect(await call(busName('mouth'), 'org.freedesktop.DBus.Properties', 'GetAll')).toMatch(/AccessDenied/);
    // No monitor, no eavesdropping, and the bus's list of names shows only what it may see.
    expect(await errorName(callWithDeadline(evil, { destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus.Monitoring', member: 'BecomeMonitor', signature: 'asu', body: [[], 0] }, 3000))).toMatch(/AccessDenied/);
    const names = (await callBus(evil, 'ListNames', '', [])).body[0] as string[];
    expect(names.filter((n) => !n.startsWith(':')).sort()).toEqual(['org.freedesktop.DBus', busName('evil'), busName('mouth'), busName('Supervisor')].sort());
    const heard: string[] = [];
    const control: string[] = [];
    const listen = (b: MessageBus, into: string[]) => b.on('message', (m: dbus.Message) => { if (m.member === 'Message' || m.member === 'Ping') into.push(`${m.sender}:${m.member}`); });
    listen(evil, heard);
    // The control: the same matches on a direct connection do hear both (the bus allows eavesdropping).
    const direct = await raw(bus.address);
    listen(direct, control);
    for (const b of [evil, direct]) {
      await callBus(b, 'AddMatch', 's', ["type='method_call',eavesdrop='true'"]).catch(() => undefined);
      await callBus(b, 'AddMatch', 's', [`type='signal',sender='${sibling.node.uniqueName}'`]).catch(() => undefined);
    }
    // Sent straight (a node emits nothing while it has no children).
    sibling.node.bus.send(dbus.Message.newSignal(NODE_PATH, NODE_INTERFACE, 'Message', MESSAGE_SIGNAL_SIGNATURE, ['PRIVMSG', [[line('PRIVMSG #c :secret')], {}]]));
    await callWithDeadline(supervisor, { destination: busName('sibling'), path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus.Peer', member: 'Ping' }, 3000).catch(() => undefined);
    // A round trip through the same proxy after them: had they been delivered, they would be here.
    await callBus(evil, 'GetId', '', []);
    await waitFor(() => control.length >= 2, { what: `the direct connection hearing the signal and the call (heard ${JSON.stringify(control)})` });
    await new Promise((r) => setTimeout(r, 200));
    expect(heard).toEqual([]);
  });
});
