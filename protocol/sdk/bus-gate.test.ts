import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import dbus from 'dbus-next';
import { readHeaderFields } from './bus-gate.js';

const require = createRequire(import.meta.url);
const { marshallMessage } = require('dbus-next/lib/marshall-compat') as { marshallMessage: (m: unknown) => [Buffer, unknown[]] };
const { unmarshall } = require('dbus-next/lib/message') as { unmarshall: (b: Buffer) => Record<string, unknown> };
const { Message, MessageType } = dbus;

/** The header fields of a marshalled message: after the 16-byte fixed part, padded to 8. */
function fieldsOf(full: Buffer): [Buffer, number] {
  const length = full.readUInt32LE(12);
  return [full.subarray(16, 16 + (((length + 7) >> 3) << 3)), length];
}

describe('the one-pass header reader', () => {
  it('reads the fields dbus-next reads, for calls, signals, replies and errors', () => {
    const call = new Message({ type: MessageType.METHOD_CALL, serial: 9, destination: 'org.hive.x.mouth', path: '/org/hive/Node', interface: 'org.hive.Node1', member: 'Send', signature: 's', body: ['é'] });
    call.sender = ':1.42';
    const messages = [
      call,
      new Message({ type: MessageType.SIGNAL, serial: 10, path: '/org/hive/Node', interface: 'org.hive.Node1', member: 'Reparent', signature: 's', body: [''] }),
      new Message({ type: MessageType.METHOD_RETURN, serial: 11, replySerial: 9, destination: ':1.42', signature: 's', body: ['ok'] }),
      new Message({ type: MessageType.ERROR, serial: 12, replySerial: 9, errorName: 'org.hive.Error.NotChild', destination: ':1.42', signature: 's', body: ['no'] }),
    ];
    for (const m of messages) {
      const [full] = marshallMessage(m);
      const theirs = unmarshall(full);
      const ours = readHeaderFields(...fieldsOf(full))!;
      for (const k of ['path', 'interface', 'member', 'errorName', 'replySerial', 'destination', 'sender', 'signature']) {
        expect([k, ours[k]]).toEqual([k, theirs[k]]);
      }
    }
  });

  it('gives up (dbus-next then reads it) on a field it does not know or one that does not hold together', () => {
    const [full] = marshallMessage(new Message({ type: MessageType.SIGNAL, serial: 1, path: '/a', interface: 'a.b', member: 'C', signature: 's', body: ['x'] }));
    const [fields, length] = fieldsOf(full);
    const unknown = Buffer.from(fields);
    unknown[0] = 42;
    expect(readHeaderFields(unknown, length)).toBeUndefined();
    expect(readHeaderFields(fields.subarray(0, 6), length)).toBeUndefined();
  });
});
