// Issue 16 on the node side: nodes in vouch mode (HIVE_VOUCH=1, each with a credential of its own)
// against the attacks of the issue that concern nodes, on a real private bus. A stand-in supervisor
// (a raw connection owning org.hive.<instance>.Supervisor) answers Vouch from a table of
// credentials and CheckParent from a table of approved (child, parent connection) pairs, as the real one does (the real one is tested in test/tree-supervisor/). The TypeScript
// SDK's nodes run in this process; the Python SDK's responder runs as its own process.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnNode, stopAllNodes, TEST_INSTANCE } from '../helpers/node-process.js';
import { ROOT } from '../helpers/paths.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { startPrivateBus, type PrivateBus } from '../../tree-supervisor/private-bus.js';
import { decode, encode } from '../../protocol/codec.js';
import { line, type HiveMessage } from '../../protocol/hive-message.js';
import { createLogger } from '../../protocol/logger.js';
import { NODE1 } from '../../protocol/node1.js';
import { NODE_INTERFACE, NODE_PATH, SUPERVISOR_PATH, nodeBusName, supervisorBusName } from '../../protocol/names.js';
import { SUPERVISOR1 } from '../../protocol/supervisor1.js';
import { Message, Variant, callWithDeadline, connectBus, nameOwner, type MessageBus } from '../../protocol/sdk/bus.js';
import { takeOwnName } from '../../protocol/sdk/bus-names.js';
import { HiveNode, type Kind } from '../../protocol/sdk/node.js';
import { serveObject } from '../../protocol/sdk/service.js';

const busName = (n: string) => nodeBusName(TEST_INSTANCE, n);
/** Each node's own credential, as the supervisor would make them; nobody holds a hive-wide one. */
const CRED: Record<string, string> = Object.fromEntries(
  ['mouth', 'alt', 'kid', 'evil', 'shell', 'middle', 'leaf', 'pyresp'].map((n) => [n, `cred-of-${n}-${Math.random().toString(36).slice(2)}`]),
);

let bus: PrivateBus;
let supervisor: MessageBus;
const vouchAsked: [string, string][] = [];
/** CheckParent(child, parent unique name): what was asked, and the pairs the stand-in supervisor approves. */
const parentAsked: [string, string][] = [];
const approvedParents: [string, string][] = [];
/** Parent connections the stand-in supervisor never answers for (a supervisor that hangs). */
const silentParents = new Set<string>();
/** (child, node name): whoever owns that node's bus name when asked is approved (the restarted process, say). */
const approvedOwners: [string, string][] = [];
const approveParent = (child: string, parent: MessageBus | HiveNode) =>
  approvedParents.push([child, parent instanceof HiveNode ? parent.uniqueName : unique(parent)]);
const nodes: HiveNode[] = [];
const conns: MessageBus[] = [];

beforeAll(async () => {
  bus = await startPrivateBus();
  supervisor = await connectBus(bus.address);
  expect(await supervisor.requestName(supervisorBusName(TEST_INSTANCE), 0x4)).toBe(1);
  serveObject(supervisor, {
    // CheckParent added here too, so that this stand-in does not depend on the XML of the day.
    path: SUPERVISOR_PATH, spec: { ...SUPERVISOR1, methods: { ...SUPERVISOR1.methods, CheckParent: { in: [['child', 's'], ['parent', 's']], out: [['ok', 'b']] } } }, log: createLogger({ node: 'test-supervisor', level: 'silent' }), properties: () => ({}),
    methods: {
      Vouch: (m) => {
        const [name, credential] = m.body as [string, string];
        vouchAsked.push([name, credential]);
        return [CRED[name] !== undefined && CRED[name] === credential];
      },
      CheckParent: (m) => {
        const [child, parent] = m.body as [string, string];
        parentAsked.push([child, parent]);
        if (silentParents.has(parent)) return new Promise<never>(() => undefined);
        if (approvedParents.some(([c, p]) => c === child && p === parent)) return [true];
        return Promise.all(approvedOwners.filter(([c]) => c === child).map(([, n]) => nameOwner(supervisor, busName(n))))
          .then((owners) => [owners.includes(parent)]);
      },
    },
  });
});
afterAll(async () => { supervisor?.disconnect(); await bus?.stop(); });
afterEach(async () => {
  approvedParents.splice(0);
  silentParents.clear();
  approvedOwners.splice(0);
  parentAsked.splice(0);
  await stopAllNodes();
  for (const n of nodes.splice(0)) await n.stop().catch(() => undefined);
  for (const c of conns.splice(0)) c.disconnect();
});

/** A node of the TypeScript SDK in vouch mode, holding its own credential; what it hears from its parent is kept. */
async function node(name: string, kind: Kind, parent?: string): Promise<HiveNode & { heard: HiveMessage[] }> {
  const n = new HiveNode({ name, kind, instance: TEST_INSTANCE, token: CRED[name]!, vouch: true, busAddress: bus.address, parent: parent ? busName(parent) : undefined, log: createLogger({ node: `test-${name}`, level: 'silent' }) });
  const heard: HiveMessage[] = [];
  n.onDown = (wire) => { heard.push(decode(wire)); n.passDown(wire); };
  nodes.push(n);
  await n.start();
  return Object.assign(n, { heard });
}

async function conn(): Promise<MessageBus> { const c = await connectBus(bus.address); conns.push(c); return c; }
const unique = (c: MessageBus) => (c as unknown as { name: string }).name;
const callNode = (c: MessageBus, target: string, member: string, signature: string, body: unknown[]) =>
  callWithDeadline(c, { destination: busName(target), path: NODE_PATH, interface: NODE_INTERFACE, member, signature, body }, 8000);
const errorOf = (p: Promise<unknown>) => p.then(() => 'accepted', (e: { dbusName?: string }) => e.dbusName ?? String(e));
const childNames = (n: HiveNode) => [...n.children.values()].map((c) => c.name).sort();
const joinInfo = (run: string) => ({ run: new Variant('s', run) });

/** A connection that owns `name`'s bus name, as a node that started (or a hostile plugin under its own name) does. */
async function owning(name: string): Promise<MessageBus> {
  const c = await conn();
  expect((await takeOwnName(c, busName(name))).owned).toBe(true);
  return c;
}

/** A squatter that serves Attach and records what it is handed. */
async function squatterOn(name: string) {
  const c = await conn();
  const handed: [string, string][] = [];
  serveObject(c, {
    path: NODE_PATH, spec: NODE1, log: createLogger({ node: 'test-squatter', level: 'silent' }), properties: () => ({}),
    methods: {
      Attach: (m) => { handed.push(m.body as [string, string]); },
      Join: (m) => { handed.push((m.body as [string, string]).slice(0, 2) as [string, string]); return ['0'.repeat(32), 30]; },
    },
  });
  await waitFor(async () => (await c.requestName(busName(name), 0x4)) === 1, { what: `${name}'s name free` });
  return Object.assign(c, { handed });
}

describe('Attach and Join in vouch mode', () => {
  it('lets in a child that owns its name and holds its own credential, and a Join the supervisor vouches for', async () => {
    const mouth = await node('mouth', 'mouth');
    const kid = await node('kid', 'responder', 'mouth');
    await kid.waitAttached(5000);
    expect(childNames(mouth)).toEqual(['kid']);
    expect(vouchAsked).toContainEqual(['kid', CRED.kid]);
    const oneShot = await conn();
    const [key] = (await callNode(oneShot, 'mouth', 'Join', 'ssa{sv}', ['shell', CRED.shell, joinInfo('r1')])).body as [string];
    expect(key).toMatch(/^[0-9a-f]{32}$/);
    expect(await nameOwner(oneShot, busName('shell'))).toBe(mouth.uniqueName);
    expect(childNames(mouth)).toEqual(['kid', 'shell']);
  });

  it("refuses Attach under a live child's name from another connection, even with the child's credential: BadToken, and the child stays", async () => {
    const mouth = await node('mouth', 'mouth');
    const kid = await node('kid', 'responder', 'mouth');
    await kid.waitAttached(5000);
    const impostor = await conn();
    // It learnt the kid's credential somehow (a squatter, below): without the kid's bus name it is worth nothing.
    expect(await errorOf(callNode(impostor, 'mouth', 'Attach', 'ss', ['kid', CRED.kid]))).toBe('org.hive.Error.BadToken');
    expect(await errorOf(callNode(impostor, 'mouth', 'Attach', 'ss', ['kid', 'guessed']))).toBe('org.hive.Error.BadToken');
    expect(mouth.children.get(kid.uniqueName)).toEqual({ name: 'kid', unique: kid.uniqueName });
    expect(mouth.children.has(unique(impostor))).toBe(false);
    expect(mouth.counters.bad_token).toBe(2);
    // The kid was never refused as a child: what it sends arrives.
    const got: string[] = [];
    mouth.onUp = async (wire, child) => { got.push(child.name); };
    await kid.send({ lines: [line('PRIVMSG #c :still here')], meta: { 'hive.network': 'net' } });
    expect(got).toEqual(['kid']);
    expect(kid.counters.refused_as_child ?? 0).toBe(0);
  });

  it("refuses Attach and Join with another node's credential: BadToken; its own is let in", async () => {
    const mouth = await node('mouth', 'mouth');
    const evil = await owning('evil');
    expect(await errorOf(callNode(evil, 'mouth', 'Attach', 'ss', ['evil', CRED.kid]))).toBe('org.hive.Error.BadToken');
    expect(await errorOf(callNode(evil, 'mouth', 'Join', 'ssa{sv}', ['nobody', CRED.kid, joinInfo('r1')]))).toBe('org.hive.Error.BadToken');
    expect(await errorOf(callNode(evil, 'mouth', 'Join', 'ssa{sv}', ['shell', CRED.evil, joinInfo('r1')]))).toBe('org.hive.Error.BadToken');
    expect(mouth.children.size).toBe(0);
    expect(mouth.counters.bad_token).toBe(3);
    expect(await errorOf(callNode(evil, 'mouth', 'Attach', 'ss', ['evil', CRED.evil]))).toBe('accepted');
    expect(childNames(mouth)).toEqual(['evil']);
  });

  it("refuses a Join under a live node's name, even with its credential: its name cannot be taken, and it stays attached", async () => {
    const mouth = await node('mouth', 'mouth');
    const kid = await node('kid', 'responder', 'mouth');
    await kid.waitAttached(5000);
    const other = await conn();
    expect(await errorOf(callNode(other, 'mouth', 'Join', 'ssa{sv}', ['kid', CRED.kid, joinInfo('r1')]))).toBe('org.hive.Error.Failed');
    expect(await nameOwner(other, busName('kid'))).toBe(kid.uniqueName);
    expect(mouth.children.get(kid.uniqueName)?.name).toBe('kid');
  });
});

describe('SetParent in vouch mode', () => {
  it('moves a node only at the call of the supervisor: another connection, even with a credential, gets NotAuthorized and the node stays', async () => {
    const mouth = await node('mouth', 'mouth');
    const alt = await node('alt', 'filter', 'mouth');
    const kid = await node('kid', 'responder', 'mouth');
    await kid.waitAttached(5000);
    const evil = await owning('evil');
    for (const token of [CRED.kid, CRED.evil, CRED.mouth, '']) {
      expect(await errorOf(callNode(evil, 'kid', 'SetParent', 'ss', [busName('evil'), token!]))).toBe('org.hive.Error.NotAuthorized');
    }
    expect(kid.parent).toBe(busName('mouth'));
    expect(kid.counters.not_authorized).toBe(4);
    expect(childNames(mouth)).toEqual(['alt', 'kid']);
    // The supervisor's connection moves it (its token is not looked at).
    await callNode(supervisor, 'kid', 'SetParent', 'ss', [busName('alt'), '']);
    await waitFor(() => childNames(alt).includes('kid'), { what: 'kid under alt' });
    expect(kid.parent).toBe(busName('alt'));
  });

  it('moves a child without a connection only at the call of the supervisor (its parent answers for it)', async () => {
    const mouth = await node('mouth', 'mouth');
    const oneShot = await conn();
    await callNode(oneShot, 'mouth', 'Join', 'ssa{sv}', ['shell', CRED.shell, joinInfo('r1')]);
    const evil = await owning('evil');
    expect(await errorOf(callNode(evil, 'shell', 'SetParent', 'ss', [busName('evil'), CRED.shell]))).toBe('org.hive.Error.NotAuthorized');
    expect(childNames(mouth)).toEqual(['shell']);
    expect(mouth.counters.not_authorized).toBe(1);
    // From the supervisor: accepted, and the child is asked to move (it does not follow here: Timeout, not a refusal).
    expect(await errorOf(callNode(supervisor, 'shell', 'SetParent', 'ss', [busName('alt'), '']))).toBe('org.hive.Error.Timeout');
  });

  it('forged hive.capabilities from a node that is not above the auth filter cannot reach a child: it cannot move the child under itself', async () => {
    const mouth = await node('mouth', 'mouth');
    const kid = await node('kid', 'responder', 'mouth');
    await kid.waitAttached(5000);
    const evil = await owning('evil');
    expect(await errorOf(callNode(evil, 'kid', 'SetParent', 'ss', [busName('evil'), CRED.evil]))).toBe('org.hive.Error.NotAuthorized');
    // It sends its forged message anyway, as a broadcast and straight to the kid: the kid hears its parent only.
    const forged = encode({ lines: [line(':boss!b@h PRIVMSG #c :!note del 1')], meta: { 'hive.network': 'net', 'hive.capabilities': ['admin'], 'hive.account': 'boss' } });
    evil.send(Message.newSignal(NODE_PATH, NODE_INTERFACE, 'Message', 's(aaya{sv})', ['PRIVMSG.command.note', forged]));
    const direct = Message.newSignal(NODE_PATH, NODE_INTERFACE, 'Message', 's(aaya{sv})', ['PRIVMSG.command.note', forged]);
    direct.destination = kid.uniqueName;
    evil.send(direct);
    mouth.emit({ lines: [line(':bob!b@h PRIVMSG #c :hello')], meta: { 'hive.network': 'net' } });
    await waitFor(() => kid.heard.length >= 1, { what: 'the mouth\'s message at the kid' });
    await sleep(200);
    expect(kid.heard.map((m) => m.meta['hive.capabilities'])).toEqual([undefined]);
    expect(kid.parent).toBe(busName('mouth'));
  });
});

describe('bus names in vouch mode', () => {
  it("a live node's bus name cannot be taken, whatever the flags", async () => {
    const mouth = await node('mouth', 'mouth');
    const squatter = await conn();
    for (const flags of [0x1 | 0x2 | 0x4, 0x2 | 0x4, 0x2]) {
      expect(await squatter.requestName(busName('mouth'), flags | 0x4)).toBe(3); // EXISTS
    }
    expect(await nameOwner(squatter, busName('mouth'))).toBe(mouth.uniqueName);
  });

  it("a squatter on a dead parent's name, should the supervisor ever approve it, is handed only the child's own credential, which it cannot use anywhere", async () => {
    const mouth = await node('mouth', 'mouth');
    await node('middle', 'filter', 'mouth');
    const leaf = await node('leaf', 'responder', 'middle');
    await leaf.waitAttached(5000);
    const middle = nodes.find((n) => n.name === 'middle')!;
    // middle dies without a word (no Reparent); the squatter takes its free name and waits for Attach.
    middle.bus.disconnect();
    const squatter = await conn();
    const handed: [string, string][] = [];
    serveObject(squatter, {
      path: NODE_PATH, spec: NODE1, log: createLogger({ node: 'test-squatter', level: 'silent' }), properties: () => ({}),
      methods: { Attach: (m) => { handed.push(m.body as [string, string]); } },
    });
    // Defence in depth: the real supervisor refuses a squatter (CheckParent, below); say it did not.
    approveParent('leaf', squatter);
    await waitFor(async () => (await squatter.requestName(busName('middle'), 0x4)) === 1, { what: 'the dead parent\'s name free' });
    await waitFor(() => handed.length > 0, { what: 'the leaf attaching to the squatter' });
    // All it got: the leaf's own credential, no hive-wide token, nobody else's.
    expect(handed).toEqual([['leaf', CRED.leaf]]);
    expect(Object.entries(CRED).filter(([, c]) => handed[0]![1] === c).map(([n]) => n)).toEqual(['leaf']);
    // Used anywhere else, it is refused: Attach as the leaf (it does not own the leaf's name), Join
    // as the leaf (the live leaf keeps its name), moving a node.
    expect(await errorOf(callNode(squatter, 'mouth', 'Attach', 'ss', ['leaf', CRED.leaf]))).toBe('org.hive.Error.BadToken');
    expect(await errorOf(callNode(squatter, 'mouth', 'Join', 'ssa{sv}', ['leaf', CRED.leaf, joinInfo('r1')]))).toBe('org.hive.Error.Failed');
    expect(await errorOf(callNode(squatter, 'leaf', 'SetParent', 'ss', [busName('middle'), CRED.leaf]))).toBe('org.hive.Error.NotAuthorized');
    expect(await nameOwner(squatter, busName('leaf'))).toBe(leaf.uniqueName);
    expect(childNames(mouth)).toEqual([]);
    nodes.splice(nodes.indexOf(middle), 1);
  });
});

describe('a Python node (plugins/examples/python) in vouch mode', () => {
  const RESPONDER = join(ROOT, 'plugins/examples/python/responder.py');

  async function pyUnder(parent: string) {
    const py = spawnNode({ name: 'pyresp', command: ['/usr/bin/python3', RESPONDER], bus: bus.address, parent: busName(parent), token: CRED.pyresp, env: { HIVE_VOUCH: '1' } });
    await py.waitForLog('attached to parent');
    return py;
  }
  const pyProps = async (c: MessageBus) => {
    const r = await callWithDeadline(c, { destination: busName('pyresp'), path: NODE_PATH, interface: 'org.freedesktop.DBus.Properties', member: 'GetAll', signature: 's', body: [NODE_INTERFACE] }, 5000);
    return Object.fromEntries(Object.entries(r.body[0] as Record<string, { value: unknown }>).map(([k, v]) => [k, v.value]));
  };

  it('attaches with its own credential (vouched) and answers', async () => {
    const mouth = await node('mouth', 'mouth');
    const got: HiveMessage[] = [];
    mouth.onUp = async (wire) => { got.push(decode(wire)); };
    await pyUnder('mouth');
    expect(childNames(mouth)).toEqual(['pyresp']);
    mouth.emit({ lines: [line(':bob!b@h PRIVMSG #chan :!pyping')], meta: { 'hive.network': 'net', 'hive.id': 'q1' } });
    await waitFor(() => got.find((m) => m.meta['hive.reply_to'] === 'q1'), { what: 'pyresp answering' });
  });

  it('refuses Attach from a connection that does not own the name, and with another node\'s credential; lets in the rightful one', async () => {
    await node('mouth', 'mouth');
    await pyUnder('mouth');
    const impostor = await conn();
    expect(await errorOf(callNode(impostor, 'pyresp', 'Attach', 'ss', ['kid', CRED.kid]))).toBe('org.hive.Error.BadToken');
    const evil = await owning('evil');
    expect(await errorOf(callNode(evil, 'pyresp', 'Attach', 'ss', ['evil', CRED.kid]))).toBe('org.hive.Error.BadToken');
    expect((await pyProps(evil)).Children).toEqual([]);
    expect(await errorOf(callNode(evil, 'pyresp', 'Attach', 'ss', ['evil', CRED.evil]))).toBe('accepted');
    expect((await pyProps(evil)).Children).toEqual([['evil', unique(evil)]]);
    expect((await pyProps(evil)).Counters).toMatchObject({ bad_token: 2n });
  });

  it('moves only at the call of the supervisor, and its bus name cannot be taken', async () => {
    await node('mouth', 'mouth');
    const alt = await node('alt', 'filter', 'mouth');
    const py = await pyUnder('mouth');
    const evil = await owning('evil');
    expect(await errorOf(callNode(evil, 'pyresp', 'SetParent', 'ss', [busName('evil'), CRED.pyresp]))).toBe('org.hive.Error.NotAuthorized');
    expect((await pyProps(evil)).Parent).toBe(busName('mouth'));
    expect((await pyProps(evil)).Counters).toMatchObject({ not_authorized: 1n });
    expect(await evil.requestName(busName('pyresp'), 0x1 | 0x2 | 0x4)).toBe(3);
    await callNode(supervisor, 'pyresp', 'SetParent', 'ss', [busName('alt'), '']);
    await waitFor(() => childNames(alt).includes('pyresp'), { what: 'pyresp under alt' });
    expect(py.logs.some((l) => l.msg === 'SetParent refused')).toBe(true);
  });

  it("gives a squatter on its dead parent's name no Attach, stays without a parent, and follows the supervisor's SetParent", async () => {
    const mouth = await node('mouth', 'mouth');
    const middle = await node('middle', 'filter', 'mouth');
    const py = await pyUnder('middle');
    nodes.splice(nodes.indexOf(middle), 1);
    middle.bus.disconnect(); // dies without a word (no Reparent)
    const squatter = await squatterOn('middle');
    await waitFor(() => py.logs.some((l) => l.msg === 'not following this parent: the supervisor did not approve it; waiting for its SetParent'), { what: 'pyresp refusing the squatter' });
    expect(parentAsked).toContainEqual(['pyresp', unique(squatter)]);
    await sleep(300);
    expect(squatter.handed).toEqual([]);
    expect((await pyProps(squatter)).Counters).toMatchObject({ parent_refused: 1n });
    await callNode(supervisor, 'pyresp', 'SetParent', 'ss', [busName('mouth'), '']);
    await waitFor(() => childNames(mouth).includes('pyresp'), { what: 'pyresp under mouth' });
    expect(squatter.handed).toEqual([]);
  });

  it('follows a Reparent only to a node the supervisor approves', async () => {
    const mouth = await node('mouth', 'mouth');
    const middle = await node('middle', 'filter', 'mouth');
    const py = await pyUnder('middle');
    const evil = await squatterOn('evil');
    middle.bus.send(Message.newSignal(NODE_PATH, NODE_INTERFACE, 'Reparent', 's', [busName('evil')]));
    await waitFor(() => parentAsked.some(([c, p]) => c === 'pyresp' && p === unique(evil)), { what: 'pyresp asking about evil' });
    await sleep(300);
    expect(evil.handed).toEqual([]);
    expect((await pyProps(evil)).Counters).toMatchObject({ parent_refused: 1n });
    // Its parent (here still middle's connection) sends it to the mouth, which the supervisor approves.
    approveParent('pyresp', mouth);
    await callNode(supervisor, 'pyresp', 'SetParent', 'ss', [busName('middle'), '']);
    await waitFor(() => childNames(middle).includes('pyresp'), { what: 'pyresp back under middle' });
    middle.bus.send(Message.newSignal(NODE_PATH, NODE_INTERFACE, 'Reparent', 's', [busName('mouth')]));
    await waitFor(() => childNames(mouth).includes('pyresp'), { what: 'pyresp under mouth' });
    expect(parentAsked).toContainEqual(['pyresp', mouth.uniqueName]);
    await waitFor(() => py.logs.filter((l) => l.msg === 'attached to parent').length === 3, { what: 'pyresp attached three times: middle, middle again, mouth' });
    expect((await pyProps(mouth.bus)).Parent).toBe(busName('mouth'));
  });
});

describe('following a parent in vouch mode: only one the supervisor named or approves (CheckParent)', () => {
  it("a squatter on a dead parent's name gets no Attach: the child stays without a parent until the supervisor's SetParent", async () => {
    const mouth = await node('mouth', 'mouth');
    const middle = await node('middle', 'filter', 'mouth');
    const leaf = await node('leaf', 'responder', 'middle');
    await leaf.waitAttached(5000);
    nodes.splice(nodes.indexOf(middle), 1);
    middle.bus.disconnect(); // dies without a word (no Reparent)
    const squatter = await squatterOn('middle');
    await waitFor(() => parentAsked.some(([c, p]) => c === 'leaf' && p === unique(squatter)), { what: 'the leaf asking the supervisor about the new owner' });
    await sleep(300);
    expect(squatter.handed).toEqual([]);
    expect(leaf.attached).toBe(false);
    expect(leaf.counters.parent_refused).toBe(1);
    // The supervisor moves it (its SetParent needs no approval): attached again.
    await callNode(supervisor, 'leaf', 'SetParent', 'ss', [busName('mouth'), '']);
    await waitFor(() => childNames(mouth).includes('leaf'), { what: 'leaf under mouth' });
    expect(leaf.attached).toBe(true);
    expect(squatter.handed).toEqual([]);
  });

  it('a Reparent signal naming a node that is not an ancestor is not followed', async () => {
    await node('mouth', 'mouth');
    const middle = await node('middle', 'filter', 'mouth');
    const leaf = await node('leaf', 'responder', 'middle');
    await leaf.waitAttached(5000);
    const evil = await squatterOn('evil');
    // The parent (hostile, or fooled) sends its child elsewhere.
    middle.bus.send(Message.newSignal(NODE_PATH, NODE_INTERFACE, 'Reparent', 's', [busName('evil')]));
    await waitFor(() => parentAsked.some(([c, p]) => c === 'leaf' && p === unique(evil)), { what: 'the leaf asking the supervisor about evil' });
    await sleep(300);
    expect(evil.handed).toEqual([]);
    expect(leaf.attached).toBe(false);
    expect(leaf.counters.parent_refused).toBe(1);
  });

  it("no answer from the supervisor within the deadline is a no; a restarted parent it approves is attached to again by itself", async () => {
    const mouth = await node('mouth', 'mouth');
    const middle = await node('middle', 'filter', 'mouth');
    const leaf = await node('leaf', 'responder', 'middle');
    await leaf.waitAttached(5000);
    nodes.splice(nodes.indexOf(middle), 1);
    middle.bus.disconnect();
    // A new owner the stand-in supervisor never answers for.
    const silent = await conn();
    silentParents.add(unique(silent));
    expect(await silent.requestName(busName('middle'), 0x4)).toBe(1);
    const t0 = Date.now();
    await waitFor(() => leaf.counters.parent_refused === 1, { timeout: 6000, what: 'the leaf giving up on the silent supervisor' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2000);
    expect(leaf.attached).toBe(false);
    silent.disconnect();
    // middle restarts; the supervisor approves its new process: the leaf attaches by itself (NameOwnerChanged).
    approvedOwners.push(['leaf', 'middle']);
    const again = await node('middle', 'filter', 'mouth');
    await waitFor(() => childNames(again).includes('leaf'), { what: 'the leaf back under the restarted middle' });
    expect(leaf.counters.parent_refused).toBe(1);
    expect(childNames(mouth)).toEqual(['middle']);
  });

  it('a Reparent signal naming a node the supervisor approves is followed', async () => {
    const mouth = await node('mouth', 'mouth');
    const middle = await node('middle', 'filter', 'mouth');
    const leaf = await node('leaf', 'responder', 'middle');
    await leaf.waitAttached(5000);
    approveParent('leaf', mouth);
    middle.bus.send(Message.newSignal(NODE_PATH, NODE_INTERFACE, 'Reparent', 's', [busName('mouth')]));
    await waitFor(() => childNames(mouth).includes('leaf'), { what: 'leaf under mouth' });
    expect(parentAsked).toContainEqual(['leaf', mouth.uniqueName]);
    expect(leaf.parent).toBe(busName('mouth'));
    expect(leaf.counters.parent_refused ?? 0).toBe(0);
  });
});

describe('a node without a connection (plugins/examples/shell) in vouch mode', () => {
  const shellUnder = async (parent: string) => {
    const sh = spawnNode({ name: 'shell', command: ['bash', join(ROOT, 'plugins/examples/shell/responder.sh')], bus: bus.address, parent: busName(parent), token: CRED.shell, env: { HIVE_VOUCH: '1' } });
    await sh.waitForLog('joined parent');
    return sh;
  };

  it('follows MoveChild only to a parent the supervisor approves: no Join at a node that is not its ancestor', async () => {
    await node('mouth', 'mouth');
    const middle = await node('middle', 'filter', 'mouth');
    const sh = await shellUnder('middle');
    expect(childNames(middle)).toEqual(['shell']);
    const evil = await squatterOn('evil');
    // Its parent (hostile, or fooled) sends it elsewhere.
    middle.bus.send(Message.newSignal(NODE_PATH, NODE_INTERFACE, 'MoveChild', 'ss', ['shell', busName('evil')]));
    await sh.waitForLog('not following this parent: the supervisor did not approve it; waiting');
    expect(parentAsked).toContainEqual(['shell', unique(evil)]);
    await sleep(300);
    expect(evil.handed).toEqual([]);
  }, 20_000);

  it('follows MoveChild to a parent the supervisor approves', async () => {
    const mouth = await node('mouth', 'mouth');
    const middle = await node('middle', 'filter', 'mouth');
    await shellUnder('middle');
    approveParent('shell', mouth);
    middle.bus.send(Message.newSignal(NODE_PATH, NODE_INTERFACE, 'MoveChild', 'ss', ['shell', busName('mouth')]));
    await waitFor(() => childNames(mouth).includes('shell'), { what: 'shell joined under mouth' });
    expect(parentAsked).toContainEqual(['shell', mouth.uniqueName]);
  }, 20_000);
});

describe('the node from scratch in docs/protocol.md (A node in Python, jeepney) in vouch mode', () => {
  async function docNode(dir: string, parent: string) {
    const doc = await readFile(join(ROOT, 'docs/protocol.md'), 'utf8');
    const code = /## A node in Python[\s\S]*?```python\n([\s\S]*?)\n```/.exec(doc)![1]!;
    const file = join(dir, 'jeepney-node.py');
    await writeFile(file, code);
    return spawnNode({ name: 'leaf', command: ['/usr/bin/python3', file], bus: bus.address, parent: busName(parent), token: CRED.leaf, env: { HIVE_VOUCH: '1' } });
  }

  it('serves the properties hive tree and help read: its kind, commands and counters', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'jeepney-'));
    try {
      const mouth = await node('mouth', 'mouth');
      const up: HiveMessage[] = [];
      mouth.onUp = async (wire) => { up.push(decode(wire)); };
      await docNode(dir, 'mouth');
      await waitFor(() => childNames(mouth).includes('leaf'), { what: 'the doc node under the mouth' });
      mouth.emit({ lines: [line(':bob!b@h PRIVMSG #c :!pyecho hello')], meta: { 'hive.network': 'net', 'hive.nick': 'hive' } });
      await waitFor(() => up.some((m) => m.lines.map(String).includes('PRIVMSG #c :hello')), { what: 'the doc node answering' });
      const all = await callWithDeadline(supervisor, { destination: busName('leaf'), path: NODE_PATH, interface: 'org.freedesktop.DBus.Properties', member: 'GetAll', signature: 's', body: [NODE_INTERFACE] }, 3000);
      const props = Object.fromEntries(Object.entries(all.body[0] as Record<string, { value: unknown }>).map(([k, v]) => [k, v.value]));
      expect(props.Name).toBe('leaf');
      expect(props.Kind).toBe('responder');
      expect(props.Parent).toBe(busName('mouth'));
      expect(props.Commands).toEqual([['pyecho', 'pyecho TEXT — says TEXT back']]);
      expect(Number((props.Counters as Record<string, bigint>).in)).toBe(1);
      expect(Number((props.Counters as Record<string, bigint>).out)).toBe(1);
      const kind = await callWithDeadline(supervisor, { destination: busName('leaf'), path: NODE_PATH, interface: 'org.freedesktop.DBus.Properties', member: 'Get', signature: 'ss', body: [NODE_INTERFACE, 'Kind'] }, 3000);
      expect((kind.body[0] as { value: string }).value).toBe('responder');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 20_000);

  it('follows a Reparent only to a node the supervisor approves: no Attach at one it does not', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'jeepney-'));
    try {
      const mouth = await node('mouth', 'mouth');
      const middle = await node('middle', 'filter', 'mouth');
      const py = await docNode(dir, 'middle');
      await waitFor(() => childNames(middle).includes('leaf'), { what: 'the doc node under middle' });
      // Its parent sends it to a node that is not its ancestor: asked, refused, not attached there.
      const evil = await squatterOn('evil');
      middle.bus.send(Message.newSignal(NODE_PATH, NODE_INTERFACE, 'Reparent', 's', [busName('evil')]));
      await waitFor(() => py.stderr.some((l) => l.startsWith('parent refused by the supervisor')), { what: 'the doc node refusing evil' });
      expect(parentAsked).toContainEqual(['leaf', unique(evil)]);
      expect(evil.handed).toEqual([]);
      // The supervisor moves it back; then a Reparent to an approved node is followed.
      await callNode(supervisor, 'leaf', 'SetParent', 'ss', [busName('middle'), '']);
      await waitFor(() => childNames(middle).includes('leaf'), { what: 'the doc node back under middle' });
      approveParent('leaf', mouth);
      middle.bus.send(Message.newSignal(NODE_PATH, NODE_INTERFACE, 'Reparent', 's', [busName('mouth')]));
      await waitFor(() => childNames(mouth).includes('leaf'), { what: 'the doc node under mouth' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 20_000);
});
