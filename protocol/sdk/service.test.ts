// serveObject on a real dbus-daemon: an answer that cannot be encoded is this node's bug, and the
// caller is told so at once (Failed), not left to wait out its deadline.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { startPrivateBus, type PrivateBus } from '../../tree-supervisor/private-bus.js';
import { callWithDeadline, connectBus, type MessageBus } from './bus.js';
import { takeName } from './bus-names.js';
import { serveObject } from './service.js';

let bus: PrivateBus;
let server: MessageBus;
let caller: MessageBus;
const logged: Record<string, unknown>[] = [];
const NAME = 'org.hive.test.service';

beforeAll(async () => {
  bus = await startPrivateBus();
  server = await connectBus(bus.address);
  caller = await connectBus(bus.address);
  const log = pino({ level: 'debug' }, { write: (l: string) => { logged.push(JSON.parse(l) as Record<string, unknown>); } });
  serveObject(server, {
    path: '/t',
    spec: { name: 'org.hive.Test1', methods: { Good: { in: [], out: [['d', 'a{ss}']] }, Bad: { in: [], out: [['d', 'a{ss}']] } }, signals: {}, properties: {} },
    methods: {
      Good: () => [{ a: 'b' }],
      // dbus-next takes an a{ss} only from an object whose constructor is Object.
      Bad: () => [Object.assign(Object.create(null) as object, { a: 'b' })],
    },
    properties: () => ({}),
    log,
  });
  expect((await takeName(server, NAME)).owned).toBe(true);
});
afterAll(async () => { server?.disconnect(); caller?.disconnect(); await bus?.stop(); });

const call = (member: string) => callWithDeadline(caller, { destination: NAME, path: '/t', interface: 'org.hive.Test1', member, signature: '', body: [] }, 5000);

describe('serveObject', () => {
  it('answers what it can encode', async () => {
    expect((await call('Good')).body[0]).toEqual({ a: 'b' });
  });

  it('answers Failed at once, and logs an error, when its answer cannot be encoded', async () => {
    // Failed, not Timeout: the caller was answered, not left to its 5 s deadline.
    await expect(call('Bad')).rejects.toMatchObject({ dbusName: 'org.hive.Error.Failed' });
    expect(logged.some((l) => l.level === 50 && l.msg === 'answer could not be encoded; the caller is told Failed' && l.member === 'Bad')).toBe(true);
  });
});
