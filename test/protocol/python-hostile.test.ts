// The Python SDK (protocol/sdk/python/hive_node.py) against hostile bus input (issue 14,
// items 9-11): a Python responder under an in-process root on a real dbus-daemon.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPrivateBus, startTestRoot, type PrivateBus, type TestRoot } from '../helpers/bus.js';
import { spawnNode, stopAllNodes, TEST_INSTANCE, TEST_TOKEN } from '../helpers/node-process.js';
import { ROOT } from '../helpers/paths.js';
import { waitFor } from '../helpers/wait.js';
import { nodeBusName, NODE_INTERFACE, NODE_PATH } from '../../protocol/names.js';
import { line } from '../../protocol/hive-message.js';
import { callWithDeadline, connectBus, type MessageBus } from '../../protocol/sdk/bus.js';

let bus: PrivateBus;
let root: TestRoot | undefined;
let impostor: MessageBus | undefined;
let dir: string;
const mouth = nodeBusName(TEST_INSTANCE, 'mouth');
const RESPONDER = join(ROOT, 'plugins/examples/python/responder.py');

beforeAll(async () => { bus = await startPrivateBus(); });
afterAll(async () => { await bus?.stop(); });
afterEach(async () => {
  await stopAllNodes();
  impostor?.disconnect();
  await root?.stop();
  root = undefined;
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
function ping(seq?: number): string {
  const msg = { lines: [line(':bob!b@host PRIVMSG #chan :!pyping')], meta: { 'hive.network': 'net', 'hive.nick': 'hive', ...(seq !== undefined ? { 'hive.seq': seq } : {}), 'hive.id': `py-${++n}` } };
  root!.node.emit(msg);
  return msg.meta['hive.id'];
}

async function start() {
  dir = await mkdtemp(join(tmpdir(), 'py-hostile-'));
  root = await startTestRoot(bus.address);
  const py = spawnNode({ name: 'pyresp', command: ['/usr/bin/python3', RESPONDER], bus: bus.address, parent: mouth, env: { HIVE_STATE_DIR: dir } });
  await waitFor(() => [...root!.node.children.values()].some((c) => c.name === 'pyresp'), { what: 'pyresp attached' });
  return py;
}

describe('a Python node', () => {
  it('is put on the path by its parent once, and attaches again after another connection took its place', async () => {
    await start();
    const first = await root!.replyTo(ping());
    expect(first.meta).toMatchObject({ 'hive.path': ['pyresp'], 'hive.origin': 'pyresp' });
    impostor = await connectBus(bus.address);
    await callWithDeadline(impostor, { destination: mouth, path: NODE_PATH, interface: NODE_INTERFACE, member: 'Attach', signature: 'ss', body: ['pyresp', TEST_TOKEN] }, 5000);
    const again = await root!.replyTo(ping());
    expect(again.from).toBe('pyresp');
    expect(root!.node.children.has(impostor.name!)).toBe(false);
  });

  it('does not remember a forged hive.seq from the future, and hears a numbering that went back', async () => {
    const py = await start();
    await root!.replyTo(ping(1000));
    await root!.replyTo(ping((Date.now() + 86_400_000) * 1000));
    await root!.replyTo(ping(1001));
    await py.waitForLog('hive.seq from the future: not remembered');
    // Far below the last: a new mouth's numbering, heard.
    await root!.replyTo(ping(5_000_000));
    await root!.replyTo(ping(10));
    await py.waitForLog('hive.seq went back: a new numbering; starting over from it');
  });

  it('answers Introspect on the way to its object, and off the way without its interface', async () => {
    await start();
    const client = await connectBus(bus.address);
    try {
      const at = async (path: string) => (await callWithDeadline(client, { destination: nodeBusName(TEST_INSTANCE, 'pyresp'), path, interface: 'org.freedesktop.DBus.Introspectable', member: 'Introspect' }, 5000)).body[0] as string;
      expect(await at('/')).toBe('<node><node name="org"/></node>');
      expect(await at('/org/hive')).toBe('<node><node name="Node"/></node>');
      // Off the way (python-dbus-next answers those itself): a node, without Hive's interface.
      for (const off of ['/foo', '/org/hivex']) {
        const xml = await at(off);
        expect(xml).toMatch(/<node/);
        expect(xml).not.toContain('org.hive.Node1');
      }
      expect(await at(NODE_PATH)).toContain('<interface name="org.hive.Node1">');
    } finally {
      client.disconnect();
    }
  });
});

