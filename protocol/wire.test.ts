import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import dbus from 'dbus-next';
import { encode, decode, type WireMessage } from './codec.js';
import { canMarshal, marshalBody, marshalMessage, readHiveBody } from './wire.js';
import { parseLine } from './irc-line.js';

const require = createRequire(import.meta.url);
const { marshallMessage, messageToJsFmt } = require('dbus-next/lib/marshall-compat') as { marshallMessage: (m: unknown) => [Buffer, unknown[]]; messageToJsFmt: (m: unknown) => { body: unknown[] } };
const { unmarshall } = require('dbus-next/lib/message') as { unmarshall: (b: Buffer) => { body: unknown[]; member: string; path: string } };
const { Variant, Message } = dbus;

function sample(): WireMessage {
  return encode({
    lines: [Buffer.from(':alice!a@host PRIVMSG #c :héllo wörld ✓'), Buffer.from([0xff, 0xfe, 0x41]), Buffer.from('x')],
    meta: {
      'hive.id': 'mouth-1', 'hive.network': 'net', 'hive.seq': 1795437000000001, 'hive.time': 1795437000123.5,
      'hive.path': ['mouth', 'f1'], 'hive.tags': { time: '2026-01-01T00:00:00Z', account: 'alice' }, 'hive.query': true,
      'x.flag': new Variant('u', 7), 'x.bytes': new Variant('ay', Buffer.from([1, 2, 3])), 'x.neg': new Variant('x', -5n),
    },
  });
}

describe('our (aaya{sv}) marshaller', () => {
  it('writes exactly the bytes dbus-next writes, for a signal and a method call', () => {
    for (const type of [4, 1] as const) {
      const wire = sample();
      const ours = marshalMessage({ type, serial: 42, path: '/org/hive/Node', interface: 'org.hive.Node1', member: type === 4 ? 'Message' : 'Send', destination: type === 1 ? 'org.hive.x.mouth' : undefined }, wire);
      const msg = new Message({ type, serial: 42, path: '/org/hive/Node', interface: 'org.hive.Node1', member: type === 4 ? 'Message' : 'Send', destination: type === 1 ? 'org.hive.x.mouth' : undefined, signature: '(aaya{sv})', body: [sample()] });
      const [theirs] = marshallMessage(msg);
      expect(ours.equals(theirs)).toBe(true);
    }
  });

  it('writes a Message signal with its route exactly as dbus-next writes s(aaya{sv})', () => {
    for (const route of ['PRIVMSG.command.ping', '', 'event.registered', 'é']) {
      const ours = marshalMessage({ type: 4, serial: 7, path: '/org/hive/Node', interface: 'org.hive.Node1', member: 'Message', route }, sample());
      const msg = new Message({ type: 4, serial: 7, path: '/org/hive/Node', interface: 'org.hive.Node1', member: 'Message', signature: 's(aaya{sv})', body: [route, sample()] });
      expect(ours.equals(marshallMessage(msg)[0])).toBe(true);
      const back = messageToJsFmt(unmarshall(ours));
      expect(back.body[0]).toBe(route);
      expect(decode(back.body[1] as WireMessage).meta['hive.id']).toBe('mouth-1');
    }
  });

  it('round-trips through dbus-next\'s decoder', () => {
    const wire = sample();
    const m = messageToJsFmt(unmarshall(marshalMessage({ type: 4, serial: 1, path: '/org/hive/Node', interface: 'org.hive.Node1', member: 'Message' }, wire)));
    const back = decode(m.body[0] as WireMessage);
    expect(back.lines.map((l) => l.toString('hex'))).toEqual(wire[0].map((l) => l.toString('hex')));
    expect(back.meta['hive.seq']).toBe(1795437000000001);
    expect(back.meta['hive.tags']).toEqual({ time: '2026-01-01T00:00:00Z', account: 'alice' });
    expect(back.meta['hive.path']).toEqual(['mouth', 'f1']);
    expect((back.meta['x.neg'] as InstanceType<typeof Variant>).value).toBe(-5n);
  });

  it('handles empty lines and empty metadata, and refuses types it does not write', () => {
    expect(marshalBody([[], {}]).toString('hex')).toBe('0000000000000000');
    expect(canMarshal(sample())).toBe(true);
    expect(canMarshal([[], { 'x.v': new Variant('v', new Variant('s', 'nested')) }])).toBe(false);
  });
});

describe('our (aaya{sv}) and s(aaya{sv}) reader', () => {
  const variant = (sig: string, v: unknown) => new Variant(sig, v);
  const bodyOf = (full: Buffer) => full.subarray(full.length - full.readUInt32LE(4));

  it('reads what dbus-next reads, for a Send body and a Message signal body', () => {
    for (const route of [undefined, 'PRIVMSG.command.ping']) {
      const full = marshalMessage({ type: 4, serial: 3, path: '/org/hive/Node', interface: 'org.hive.Node1', member: 'Message', route }, sample());
      const theirs = messageToJsFmt(unmarshall(full)).body;
      const ours = readHiveBody(bodyOf(full), route === undefined ? '(aaya{sv})' : 's(aaya{sv})', variant);
      expect(ours).toEqual(theirs);
    }
  });

  it('keeps a metadata key named __proto__ a key (checkMeta refuses it), not the prototype', () => {
    const meta: Record<string, unknown> = {};
    Object.defineProperty(meta, '__proto__', { value: new Variant('s', 'x'), enumerable: true });
    const body = marshalBody([[], meta as WireMessage[1]]);
    const read = (readHiveBody(body, '(aaya{sv})', variant) as [[Buffer[], Record<string, unknown>]])[0][1];
    expect(Object.getPrototypeOf(read)).toBe(Object.prototype);
    expect(Object.keys(read)).toEqual(['__proto__']);
  });

  it('leaves other signatures and other metadata types to dbus-next, and refuses a body that does not hold together', () => {
    expect(readHiveBody(Buffer.alloc(8), 'ss', variant)).toBeUndefined();
    const nested = new Message({ type: 4, serial: 1, path: '/x', interface: 'a.b', member: 'Message', signature: '(aaya{sv})', body: [[[], { 'x.v': new Variant('v', new Variant('s', 'nested')) }]] });
    expect(readHiveBody(bodyOf(marshallMessage(nested)[0]), '(aaya{sv})', variant)).toBeUndefined();
    const body = bodyOf(marshalMessage({ type: 4, serial: 3, path: '/org/hive/Node', interface: 'org.hive.Node1', member: 'Message', route: 'x' }, sample()));
    expect(() => readHiveBody(body.subarray(0, body.length - 5), 's(aaya{sv})', variant)).toThrow(/truncated/);
    expect(() => readHiveBody(Buffer.concat([body, Buffer.alloc(8)]), 's(aaya{sv})', variant)).toThrow(/left over/);
  });
});

// A Replay answer (a(aaya{sv})b) goes through dbus-next's marshaller, which takes an a{ss} only
// from an object whose constructor is Object; irc-line.ts's tags have no prototype. The mouth's
// Replay answer for a tagged line failed to marshal, and the child waited out its 10 s deadline.
describe('tags of a parsed line in a Replay answer', () => {
  it('marshal through dbus-next, __proto__ kept as a tag', () => {
    const tags = parseLine('@account=alice;__proto__=x;time=2026-01-01T00:00:00Z :alice!a@h PRIVMSG #c :!secret')!.tags!;
    expect(Object.getPrototypeOf(tags)).toBe(null);
    const wire = encode({ lines: [Buffer.from('x')], meta: { 'hive.id': 'm-1', 'hive.tags': tags, 'x.tags': tags } });
    const msg = new Message({ type: 2, serial: 3, replySerial: 2, destination: ':1.9', signature: 'a(aaya{sv})b', body: [[wire], true] });
    // Before the fix: "expecting an object for signature 'a{ss}' (got object)".
    const back = messageToJsFmt(unmarshall(marshallMessage(msg)[0]));
    const meta = decode((back.body[0] as WireMessage[])[0]!).meta;
    expect(meta['hive.tags']).toMatchObject({ account: 'alice', time: '2026-01-01T00:00:00Z' });
    // What is marshalled still holds __proto__ as a tag, not as a prototype.
    expect(Object.keys((wire[1]['hive.tags'] as InstanceType<typeof Variant>).value as object)).toEqual(['account', '__proto__', 'time']);
  });
});
