import { describe, expect, it } from 'vitest';
import { HiveError } from '../protocol/errors.js';
import { OUTBOUND_HIVE_ERROR, OutboundRefused, showBytes } from './outbound-error.js';

describe('OutboundRefused', () => {
  it('is a named Error with a code and a message', () => {
    const err = new OutboundRefused('QueueFull', 'queue is full');
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('OutboundRefused');
    expect(err.code).toBe('QueueFull');
    expect(err.message).toBe('queue is full');
  });

  it('maps every code to a Hive D-Bus error', () => {
    expect(new OutboundRefused('InjectionAttempt', 'x').hiveErrorName).toBe('InvalidMessage');
    expect(new OutboundRefused('InvalidLine', 'x').hiveErrorName).toBe('InvalidMessage');
    expect(new OutboundRefused('LineTooLong', 'x').hiveErrorName).toBe('Refused');
    expect(new OutboundRefused('CommandNotAllowed', 'x').hiveErrorName).toBe('Refused');
    expect(new OutboundRefused('QueueFull', 'x').hiveErrorName).toBe('QueueFull');
    expect(new OutboundRefused('UserShare', 'x').hiveErrorName).toBe('QueueFull');
    expect(new OutboundRefused('NetworkUnknown', 'x').hiveErrorName).toBe('NetworkUnknown');
    expect(new OutboundRefused('CtcpNotAllowed', 'x').hiveErrorName).toBe('Refused');
    expect(new OutboundRefused('JoinZero', 'x').hiveErrorName).toBe('Refused');
    expect(new OutboundRefused('RateLimited', 'x').hiveErrorName).toBe('Refused');
    expect(Object.keys(OUTBOUND_HIVE_ERROR)).toHaveLength(10);
  });

  it('converts to a HiveError that keeps code and text', () => {
    const err = new OutboundRefused('CommandNotAllowed', 'QUIT is not allowed');
    const hive = err.toHiveError();
    expect(hive).toBeInstanceOf(HiveError);
    expect(hive.code).toBe('Refused');
    expect(hive.dbusName).toBe('org.hive.Error.Refused');
    expect(hive.message).toBe('CommandNotAllowed: QUIT is not allowed');
    expect(hive.cause).toBe(err);
  });
});

describe('showBytes', () => {
  it('quotes text and escapes control bytes so messages stay on one line', () => {
    expect(showBytes(Buffer.from('a\r\nb\x00\x01'))).toBe('"a\\x0d\\x0ab\\x00\\x01"');
    expect(showBytes('héllo')).toBe('"héllo"');
  });

  it('cuts long values and says how long they were', () => {
    expect(showBytes(Buffer.alloc(100, 'x'), 10)).toBe('"xxxxxxxxxx…" (100 bytes)');
  });
});
