// The node runtime on a real dbus-daemon with real node processes (issue 3).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dbus from 'dbus-next';
import { startPrivateBus, startTestRoot, type PrivateBus, type TestRoot } from '../helpers/bus.js';
import { spawnNode, stopAllNodes, TEST_INSTANCE, TEST_TOKEN } from '../helpers/node-process.js';
import { fixture, pluginRunner, ROOT } from '../helpers/paths.js';
import { waitFor } from '../helpers/wait.js';
import { nodeBusName, NODE_INTERFACE, NODE_PATH } from '../../protocol/names.js';
import { normaliseInterface } from '../../protocol/introspection.js';
import { line } from '../../protocol/hive-message.js';
import { connectBus, callWithDeadline, type MessageBus } from '../../protocol/sdk/bus.js';
import { parseLine } from '../../protocol/irc-line.js';

const { Variant } = dbus;
let bus: PrivateBus;
let root: TestRoot;
let client: MessageBus;
const busName = (n: string) => nodeBusName(TEST_INSTANCE, n);

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
  await root?.stop();
});

function say(text: string, meta: Record<string, unknown> = {}) {
  const msg = { lines: [line(`:bob!b@host PRIVMSG #chan :${text}`)], meta: { 'hive.network': 'net', 'hive.nick': 'hive', ...meta } };
  root.node.emit(msg);
  return msg.meta['hive.id'] as string;
}

function texts(m: { lines: Buffer[] }): string[] {
  return m.lines.map((l) => parseLine(l)!.params[1]!);
}

async function childrenOf(name: string): Promise<string[]> {
  const reply = await callWithDeadline(client, { destination: busName(name), path: NODE_PATH, interface: 'org.freedesktop.DBus.Properties', member: 'Get', signature: 'ss', body: [NODE_INTERFACE, 'Children'] }, 5000);
  return (reply.body[0].value as [string, string][]).map(([n]) => n).sort();
}

async function attached(parent: string, ...kids: string[]) {
  await waitFor(async () => {
    const c = parent === 'mouth' ? [...root.node.children.values()].map((x) => x.name).sort() : await childrenOf(parent);
    return kids.every((k) => c.includes(k));
  }, { what: `${kids.join(', ')} attached to ${parent}` });
}

function callNode(name: string, member: string, signature: string, body: unknown[]) {
  return callWithDeadline(client, { destination: busName(name), path: NODE_PATH, interface: NODE_INTERFACE, member, signature, body }, 5000);
}

describe('a tree of node processes', () => {
  it('sends a message down three levels and the reply back up, answering its id', async () => {
    root = await startTestRoot(bus.address);
    spawnNode({ name: 'relay', command: ['node', fixture('passthrough')], bus: bus.address, parent: busName('mouth') });
    spawnNode({ name: 'echo', command: ['node', pluginRunner, 'echo'], bus: bus.address, parent: busName('relay') });
    await attached('mouth', 'relay');
    await attached('relay', 'echo');
    const id = say('!echo over the tree');
    const reply = await root.replyTo(id);
    expect(texts(reply)).toEqual(['over the tree']);
    expect(reply.lines[0]!.toString()).toBe('PRIVMSG #chan :over the tree');
    expect(reply.meta['hive.network']).toBe('net');
    expect(reply.meta['hive.origin']).toBe('echo');
    expect(reply.meta['hive.path']).toEqual(['echo', 'relay']);
    expect(reply.from).toBe('relay');
  });

  it('lets a filter change a message on the way down and the reply on the way up', async () => {
    root = await startTestRoot(bus.address);
    spawnNode({ name: 'marker', command: ['node', fixture('marking-filter')], bus: bus.address, parent: busName('mouth') });
    spawnNode({ name: 'echo', command: ['node', pluginRunner, 'echo'], bus: bus.address, parent: busName('marker') });
    await attached('mouth', 'marker');
    await attached('marker', 'echo');
    const id = say('!echo hello world');
    const reply = await root.replyTo(id);
    expect(texts(reply)).toEqual(['HELLO world (filtered)']);
  });

  it('lets an aggregator combine the answers of two children', async () => {
    root = await startTestRoot(bus.address);
    spawnNode({ name: 'combine', command: ['node', fixture('combine')], bus: bus.address, parent: busName('mouth') });
    spawnNode({ name: 'a', command: ['node', fixture('answer')], bus: bus.address, parent: busName('combine'), config: { word: 'alpha' } });
    spawnNode({ name: 'b', command: ['node', fixture('answer')], bus: bus.address, parent: busName('combine'), config: { word: 'beta' } });
    await attached('mouth', 'combine');
    await attached('combine', 'a', 'b');
    const id = say('!combine x');
    const reply = await root.replyTo(id);
    expect(texts(reply)).toEqual(['alpha:x + beta:x']);
    // The children's answers to the query were taken by the aggregator, not passed up.
    expect(root.received.filter((m) => texts(m).some((t) => t.startsWith('alpha:')) && m !== reply)).toEqual([]);
  });
});

describe('refusals', () => {
  it("refuses a non-child's Send with org.hive.Error.NotChild", async () => {
    root = await startTestRoot(bus.address);
    spawnNode({ name: 'echo', command: ['node', pluginRunner, 'echo'], bus: bus.address, parent: busName('mouth') });
    await attached('mouth', 'echo');
    await expect(callNode('echo', 'Send', '(aaya{sv})', [[[line('PRIVMSG #c :hi')], {}]])).rejects.toMatchObject({ dbusName: 'org.hive.Error.NotChild' });
  });

  it('refuses Attach with a wrong token with org.hive.Error.BadToken', async () => {
    root = await startTestRoot(bus.address);
    spawnNode({ name: 'echo', command: ['node', pluginRunner, 'echo'], bus: bus.address, parent: busName('mouth') });
    await attached('mouth', 'echo');
    await expect(callNode('echo', 'Attach', 'ss', ['intruder', 'wrong'])).rejects.toMatchObject({ dbusName: 'org.hive.Error.BadToken' });
  });

  it('refuses each kind of malformed input with a named error and keeps serving', async () => {
    root = await startTestRoot(bus.address);
    spawnNode({ name: 'relay', command: ['node', fixture('passthrough')], bus: bus.address, parent: busName('mouth') });
    spawnNode({ name: 'echo', command: ['node', pluginRunner, 'echo'], bus: bus.address, parent: busName('relay') });
    await attached('mouth', 'relay');
    await attached('relay', 'echo');
    await callNode('relay', 'Attach', 'ss', ['tester', TEST_TOKEN]);
    const ok = { 'hive.network': new Variant('s', 'net') };
    const cases: [string, string, unknown[]][] = [
      ['wrong signature', 's', ['PRIVMSG #c :hi']],
      ['CR/LF in a line', '(aaya{sv})', [[[line('PRIVMSG #c :hi\r\nQUIT :bye')], ok]]],
      ['NUL in a line', '(aaya{sv})', [[[line('PRIVMSG #c :a\0b')], ok]]],
      ['an empty line', '(aaya{sv})', [[[Buffer.alloc(0)], ok]]],
      ['an oversize line', '(aaya{sv})', [[[Buffer.alloc(9000, 0x61)], ok]]],
      ['too many lines', '(aaya{sv})', [[Array.from({ length: 200 }, () => line('PRIVMSG #c :x')), ok]]],
      ['a hive key of the wrong type', '(aaya{sv})', [[[line('PRIVMSG #c :hi')], { 'hive.network': new Variant('u', 3) }]]],
      ['a hive value its rules refuse', '(aaya{sv})', [[[line('PRIVMSG #c :hi')], { ...ok, 'hive.event': new Variant('s', 'bogus') }]]],
      ['an unknown hive key', '(aaya{sv})', [[[line('PRIVMSG #c :hi')], { ...ok, 'hive.bogus': new Variant('s', 'x') }]]],
      ['a key without namespace', '(aaya{sv})', [[[line('PRIVMSG #c :hi')], { ...ok, bogus: new Variant('s', 'x') }]]],
    ];
    for (const [what, sig, body] of cases) {
      const err = await callNode('relay', 'Send', sig, body).then(() => undefined, (e: unknown) => e);
      expect(err, what).toMatchObject({ dbusName: 'org.hive.Error.InvalidMessage' });
    }
    await expect(callNode('relay', 'Attach', 'i', [3])).rejects.toMatchObject({ dbusName: 'org.hive.Error.InvalidArgs' });
    await expect(callNode('relay', 'Frobnicate', '', [])).rejects.toMatchObject({ dbusName: 'org.hive.Error.InvalidArgs' });
    expect(root.received).toEqual([]);
    // Still serving: a command through the same node is answered.
    const id = say('!echo still here');
    expect(texts(await root.replyTo(id))).toEqual(['still here']);
    const counters = await callWithDeadline(client, { destination: busName('relay'), path: NODE_PATH, interface: 'org.freedesktop.DBus.Properties', member: 'Get', signature: 'ss', body: [NODE_INTERFACE, 'Counters'] }, 5000);
    expect(Number(counters.body[0].value.errors)).toBe(cases.length);
  });
});

describe('moving nodes', () => {
  it('SetParent moves a node to another parent and it keeps its own children', async () => {
    root = await startTestRoot(bus.address);
    spawnNode({ name: 'upper', command: ['node', fixture('passthrough')], bus: bus.address, parent: busName('mouth') });
    spawnNode({ name: 'middle', command: ['node', fixture('passthrough')], bus: bus.address, parent: busName('upper') });
    spawnNode({ name: 'echo', command: ['node', pluginRunner, 'echo'], bus: bus.address, parent: busName('middle') });
    await attached('middle', 'echo');
    await attached('upper', 'middle');
    await callNode('middle', 'SetParent', 'ss', [busName('mouth'), TEST_TOKEN]);
    await attached('mouth', 'middle');
    await waitFor(async () => !(await childrenOf('upper')).includes('middle'), { what: 'middle detached from upper' });
    expect(await childrenOf('middle')).toEqual(['echo']);
    const reply = await root.replyTo(say('!echo moved'));
    expect(reply.meta['hive.path']).toEqual(['echo', 'middle']);
    await expect(callNode('middle', 'SetParent', 'ss', [busName('upper'), 'wrong'])).rejects.toMatchObject({ dbusName: 'org.hive.Error.BadToken' });
  });

  it("a parent's graceful shutdown moves its children to the grandparent with their own children", async () => {
    root = await startTestRoot(bus.address);
    const upper = spawnNode({ name: 'upper', command: ['node', fixture('passthrough')], bus: bus.address, parent: busName('mouth') });
    spawnNode({ name: 'middle', command: ['node', fixture('passthrough')], bus: bus.address, parent: busName('upper') });
    spawnNode({ name: 'echo', command: ['node', pluginRunner, 'echo'], bus: bus.address, parent: busName('middle') });
    await attached('middle', 'echo');
    await attached('upper', 'middle');
    upper.kill('SIGTERM');
    expect(await upper.exited).toBe(0);
    await attached('mouth', 'middle');
    expect(await childrenOf('middle')).toEqual(['echo']);
    expect(texts(await root.replyTo(say('!echo after shutdown')))).toEqual(['after shutdown']);
  });

  it("a node whose parent dies is caught up from its new parent's replay buffer", async () => {
    root = await startTestRoot(bus.address);
    const first = spawnNode({ name: 'relay', command: ['node', fixture('passthrough')], bus: bus.address, parent: busName('mouth') });
    const echo = spawnNode({ name: 'echo', command: ['node', pluginRunner, 'echo'], bus: bus.address, parent: busName('relay') });
    await attached('mouth', 'relay');
    await attached('relay', 'echo');
    let seq = 1000;
    const sayN = (t: string) => say(t, { 'hive.seq': seq++ });
    expect(texts(await root.replyTo(sayN('!echo one')))).toEqual(['one']);
    first.kill('SIGKILL');
    await first.exited;
    await echo.waitForLog('parent lost');
    // Said while echo had no parent: the mouth keeps it in its replay buffer.
    const missed = sayN('!echo two');
    await callNode('echo', 'SetParent', 'ss', [busName('mouth'), TEST_TOKEN]);
    await attached('mouth', 'echo');
    expect(texts(await root.replyTo(missed))).toEqual(['two']);
  });
});

describe('catching up after a restart', () => {
  it('a restarted node asks its parent for what it missed, from the sequence number it saved', async () => {
    root = await startTestRoot(bus.address);
    const stateDir = await mkdtemp(join(tmpdir(), 'hive-state-'));
    const start = () => spawnNode({ name: 'echo', command: ['node', pluginRunner, 'echo'], bus: bus.address, parent: busName('mouth'), env: { HIVE_STATE_DIR: stateDir } });
    const first = start();
    await attached('mouth', 'echo');
    let seq = 5000;
    expect(texts(await root.replyTo(say('!echo before', { 'hive.seq': seq++ })))).toEqual(['before']);
    await waitFor(async () => (await readFile(join(stateDir, '.hive-seq.json'), 'utf8').catch(() => '')).includes('5000'), { what: 'seq saved' });
    first.kill('SIGKILL');
    await first.exited;
    await waitFor(() => root.node.children.size === 0, { what: 'echo gone' });
    const missed = say('!echo while down', { 'hive.seq': seq++ });
    start();
    const reply = await root.replyTo(missed);
    expect(texts(reply)).toEqual(['while down']);
    expect(reply.meta['hive.replayed']).toBe(true);
    // What it had answered before it died is not answered again.
    expect(root.received.filter((m) => texts(m)[0] === 'before')).toHaveLength(1);
  });
});

describe('the interface contract', () => {
  it('the interface a running node exports is exactly protocol/org.hive.Node1.xml', async () => {
    root = await startTestRoot(bus.address);
    spawnNode({ name: 'echo', command: ['node', pluginRunner, 'echo'], bus: bus.address, parent: busName('mouth') });
    await attached('mouth', 'echo');
    const { stdout } = await execa('gdbus', ['introspect', '--address', bus.address, '--dest', busName('echo'), '--object-path', NODE_PATH, '--xml']);
    const committed = await readFile(join(ROOT, 'protocol/org.hive.Node1.xml'), 'utf8');
    const exported = normaliseInterface(stdout, NODE_INTERFACE);
    expect(exported).not.toBe('');
    expect(exported).toBe(normaliseInterface(committed, NODE_INTERFACE));
  });

  it('a node publishes name, kind, parent, children, commands and counters', async () => {
    root = await startTestRoot(bus.address);
    spawnNode({ name: 'echo', command: ['node', pluginRunner, 'echo'], bus: bus.address, parent: busName('mouth') });
    await attached('mouth', 'echo');
    const reply = await callWithDeadline(client, { destination: busName('echo'), path: NODE_PATH, interface: 'org.freedesktop.DBus.Properties', member: 'GetAll', signature: 's', body: [NODE_INTERFACE] }, 5000);
    const p = Object.fromEntries(Object.entries(reply.body[0] as Record<string, { value: unknown }>).map(([k, v]) => [k, v.value]));
    expect(p.Name).toBe('echo');
    expect(p.Kind).toBe('responder');
    expect(p.Parent).toBe(busName('mouth'));
    expect(p.Children).toEqual([]);
    expect(p.Commands).toEqual([['echo', 'echo TEXT — says TEXT back']]);
    expect(Object.keys(p.Counters as object).sort()).toEqual(['dropped', 'errors', 'in', 'lost', 'out']);
    expect(p.Details).toEqual({});
  });

  it("a plugin's own figures are readable as the Details property", async () => {
    root = await startTestRoot(bus.address);
    spawnNode({ name: 'greeter', command: ['node', fixture('configured')], bus: bus.address, parent: busName('mouth'), config: { greeting: 'hey', times: 2 } });
    await attached('mouth', 'greeter');
    const details = async () => {
      const reply = await callWithDeadline(client, { destination: busName('greeter'), path: NODE_PATH, interface: 'org.freedesktop.DBus.Properties', member: 'Get', signature: 'ss', body: [NODE_INTERFACE, 'Details'] }, 5000);
      const v = reply.body[0] as { signature: string; value: Record<string, { signature: string; value: unknown }> };
      expect(v.signature).toBe('a{sv}');
      return Object.fromEntries(Object.entries(v.value).map(([k, x]) => [k, [x.signature, x.value]]));
    };
    expect(await details()).toEqual({ greeted: ['x', 0n], greeting: ['s', 'hey'], by_times: ['a{sx}', { 2: 0n }] });
    expect(texts(await root.replyTo(say('!greet')))).toEqual(['hey hey']);
    expect(await details()).toEqual({ greeted: ['x', 1n], greeting: ['s', 'hey'], by_times: ['a{sx}', { 2: 1n }] });
  });
});
