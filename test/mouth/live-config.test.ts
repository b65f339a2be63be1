// Mouth1.Configure (`hive reload`) checks what it is sent with zod, imported at the first call
// rather than at start (issue 17: zod is about 6 MB PSS, and most mouths are never reloaded). On a
// private bus where the test owns the supervisor's name: a supervisor-started mouth (HIVE_CONFIG_CHECKED=1)
// has not loaded zod until Configure comes; then what is not JSON, a network the schema refuses
// (named by key) and a Configure larger than the bound are refused, counted, and change nothing;
// a good one is applied.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPrivateBus, type PrivateBus } from '../helpers/bus.js';
import { spawnNode, stopAllNodes, TEST_INSTANCE, type NodeProcess } from '../helpers/node-process.js';
import { DIST, fixture } from '../helpers/paths.js';
import { callWithDeadline, connectBus, type MessageBus } from '../../protocol/sdk/bus.js';
import { MOUTH1, MOUTH_PATH } from '../../protocol/mouth1.js';
import { nodeBusName, supervisorBusName } from '../../protocol/names.js';

let bus: PrivateBus, dir: string, supervisor: MessageBus, mouth: NodeProcess, trace: string;
const script = (sock: string) => ({ type: 'script', socket: join(dir, sock), nick: 'hive', channel: '#test', backlog: 1000 });

beforeAll(async () => {
  bus = await startPrivateBus();
  dir = await mkdtemp(join(tmpdir(), 'hive-live-config-'));
  supervisor = await connectBus(bus.address);
  expect(await supervisor.requestName(supervisorBusName(TEST_INSTANCE), 0x4)).toBe(1);
  trace = join(dir, 'mouth.trace');
  mouth = spawnNode({
    name: 'mouth', command: [process.execPath, '--import', fixture('module-trace'), join(DIST, 'mouth/main.js')], bus: bus.address,
    config: { networks: { t: script('t.sock') } }, env: { HIVE_CONFIG_CHECKED: '1', HIVE_TEST_MODULE_TRACE: trace },
  });
  await mouth.waitForLog('mouth running', 15_000);
}, 30_000);
afterAll(async () => {
  await stopAllNodes();
  supervisor?.disconnect();
  await bus?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const configure = (networks: unknown) =>
  callWithDeadline(supervisor, { destination: nodeBusName(TEST_INSTANCE, 'mouth'), path: MOUTH_PATH, interface: MOUTH1.name, member: 'Configure', signature: 's', body: [typeof networks === 'string' ? networks : JSON.stringify(networks)] }, 10_000)
    .then((r) => ({ ok: JSON.parse(String(r.body[0])) as unknown }), (e: { code?: string; message: string }) => ({ code: e.code, message: e.message }));
const zodLoaded = async () => /\/node_modules\/zod\//.test(await readFile(trace, 'utf8'));

describe('Configure on a mouth the supervisor started', () => {
  it('loads zod at the first call, refuses what the schema refuses by key, and applies a good one', { timeout: 30_000 }, async () => {
    expect(await zodLoaded()).toBe(false);

    expect(await configure('{not json')).toMatchObject({ code: 'InvalidArgs', message: expect.stringContaining('networks is not JSON') });
    expect(await zodLoaded()).toBe(true);
    const bad = await configure({ t: script('t.sock'), i: { type: 'irc', host: '127.0.0.1', nick: '1bad' } });
    expect(bad).toMatchObject({ code: 'InvalidArgs', message: expect.stringContaining('networks.i.nick') });
    expect(await configure({ 'bad name!': script('x.sock') })).toMatchObject({ code: 'InvalidArgs' });
    expect(await configure({ t: script('t.sock'), big: { ...script('b.sock'), pad: 'x'.repeat(130 * 1024) } })).toMatchObject({ code: 'InvalidArgs', message: expect.stringContaining('at most') });
    // None of the refused calls changed anything: the good one adds `u` (and only that).
    expect(await configure({ t: script('t.sock'), u: script('u.sock') })).toEqual({ ok: [{ network: 'u', did: 'added' }] });
    expect(mouth.logs.filter((l) => l.msg === 'Configure refused')).toHaveLength(4);
  });
});
