import { describe, expect, it } from 'vitest';
import { checkEffect, checkLine, layoutOf, parseOutbound } from './line-safety.js';
import { OutboundRefused } from './outbound-error.js';

const b = (s: string): Buffer => Buffer.from(s, 'utf8');

function refusal(fn: () => unknown): OutboundRefused {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(OutboundRefused);
    return err as OutboundRefused;
  }
  throw new Error('expected OutboundRefused, nothing was thrown');
}

describe('checkLine', () => {
  it.each([
    'PRIVMSG #chan :hello world',
    'privmsg #chan :lower-case command',
    'JOIN #chan',
    'AWAY',
    'NOTICE nick :\x01VERSION Hive\x01',
    '@+draft/reply=abc123 PRIVMSG #chan :threaded',
    '@+typing=active;+draft/reply=x TAGMSG #chan',
    '@label=123 WHO #chan',
    '@+example.com/key=value\\sspaced PRIVMSG #c :x',
    '@+a; PRIVMSG #c :trailing semicolon',
    '001 numeric',
    'PRIVMSG #chan :日本語 and é and 😀',
  ])('accepts %j', (line) => {
    expect(() => checkLine(b(line))).not.toThrow();
  });

  it('accepts bytes that are not UTF-8 in parameters', () => {
    expect(() => checkLine(Buffer.concat([b('PRIVMSG #c :'), Buffer.from([0xe9, 0xff, 0x80])]))).not.toThrow();
  });

  it.each([
    ['CR', 'PRIVMSG #c :hi\rQUIT :bye', 'CR (\\r) at byte 14'],
    ['LF', 'PRIVMSG #c :hi\nQUIT :bye', 'LF (\\n) at byte 14'],
    ['CRLF', 'PRIVMSG #c :hi\r\n', 'CR (\\r) at byte 14'],
    ['NUL', 'PRIVMSG #c :hi\x00there', 'NUL (\\x00) at byte 14'],
    ['LF in tags', '@+a=b\nQUIT PRIVMSG #c :x', 'LF (\\n) at byte 5'],
    ['LF first', '\nQUIT', 'LF (\\n) at byte 0'],
  ])('refuses %s as InjectionAttempt', (_name, line, where) => {
    const err = refusal(() => checkLine(b(line)));
    expect(err.code).toBe('InjectionAttempt');
    expect(err.message).toContain(where);
    expect(err.message).toContain('without CR, LF or NUL');
    // the message names the value but never carries the raw control bytes itself
    expect(err.message).not.toMatch(/[\r\n\x00]/);
  });

  it('refuses an empty line', () => {
    const err = refusal(() => checkLine(Buffer.alloc(0)));
    expect(err.code).toBe('InvalidLine');
    expect(err.message).toMatch(/Empty line; expected an IRC command/);
  });

  it('refuses a :prefix, with or without tags', () => {
    for (const line of [':nick!u@h PRIVMSG #c :hi', '@+a=b :nick PRIVMSG #c :hi', ':x']) {
      const err = refusal(() => checkLine(b(line)));
      expect(err.code).toBe('InvalidLine');
      expect(err.message).toContain('the server adds it');
    }
  });

  it.each([
    [' PRIVMSG #c :leading space', '""'],
    ['PRIV-MSG #c :x', '"PRIV-MSG"'],
    ['PRIVMSG\x01 #c :x', '"PRIVMSG\\x01"'],
    ['12 short numeric', '"12"'],
    ['1234 long numeric', '"1234"'],
    ['PRIVMSG2 #c', '"PRIVMSG2"'],
    ['@+a=b  PRIVMSG #c :two spaces', '""'],
    ['@+a=b ', '""'],
    ['é #c', '"é"'],
  ])('refuses an invalid command in %j', (line, shown) => {
    const err = refusal(() => checkLine(b(line)));
    expect(err.code).toBe('InvalidLine');
    expect(err.message).toContain(`got ${shown}`);
    expect(err.message).toContain('expected letters such as PRIVMSG');
  });

  it('refuses tags without a command', () => {
    const err = refusal(() => checkLine(b('@+a=b')));
    expect(err.code).toBe('InvalidLine');
    expect(err.message).toContain('has tags but no command');
  });

  it('refuses an empty tags section', () => {
    const err = refusal(() => checkLine(b('@ PRIVMSG #c :x')));
    expect(err.code).toBe('InvalidLine');
    expect(err.message).toContain('no tags after it');
  });

  it.each(['+bad!key', '=value', '+a/b/c=1', '+wéird=1', '+a_b=1', '+=1'])('refuses the tag key of %j', (tag) => {
    const line = `@${tag} PRIVMSG #c :x`;
    const err = refusal(() => checkLine(b(line)));
    expect(err.code).toBe('InvalidLine');
    expect(err.message).toMatch(/^Tag key ".*" is not valid; expected \[\+\]\[vendor\/\]name/);
  });
});

describe('layoutOf', () => {
  it('locates the tags section and the command', () => {
    expect(layoutOf(b('PRIVMSG #c :x'))).toEqual({ tagsSectionLength: 0, commandEnd: 7 });
    expect(layoutOf(b('@+a=b PRIVMSG #c :x'))).toEqual({ tagsSectionLength: 6, commandEnd: 13 });
    expect(layoutOf(b('AWAY'))).toEqual({ tagsSectionLength: 0, commandEnd: 4 });
  });
});

describe('parseOutbound', () => {
  const strings = (params: Buffer[]): string[] => params.map((p) => p.toString('utf8'));

  it('parses command and params, the trailing one with spaces', () => {
    const p = parseOutbound(b('PRIVMSG #chan :hello  world :) '));
    expect(p.tags).toBeUndefined();
    expect(p.command).toBe('PRIVMSG');
    expect(strings(p.params)).toEqual(['#chan', 'hello  world :) ']);
  });

  it('upper-cases the command', () => {
    expect(parseOutbound(b('notice nick :x')).command).toBe('NOTICE');
  });

  it('returns tags without @ and the space', () => {
    const p = parseOutbound(b('@+draft/reply=abc;+typing=active TAGMSG #chan'));
    expect(p.tags).toBe('+draft/reply=abc;+typing=active');
    expect(p.command).toBe('TAGMSG');
    expect(strings(p.params)).toEqual(['#chan']);
  });

  it('parses middle params, tolerates doubled spaces, and keeps an empty trailing param', () => {
    expect(strings(parseOutbound(b('MODE #chan +o  nick')).params)).toEqual(['#chan', '+o', 'nick']);
    expect(strings(parseOutbound(b('TOPIC #chan :')).params)).toEqual(['#chan', '']);
    expect(parseOutbound(b('AWAY')).params).toEqual([]);
    expect(strings(parseOutbound(b('KICK #c nick :go away')).params)).toEqual(['#c', 'nick', 'go away']);
    expect(strings(parseOutbound(b('JOIN #c ')).params)).toEqual(['#c']);
  });

  it('keeps parameter bytes exactly, even when not UTF-8', () => {
    const raw = Buffer.from([0xe9, 0x20, 0xff]);
    const p = parseOutbound(Buffer.concat([b('PRIVMSG #c :'), raw]));
    expect(p.params[1]!.equals(raw)).toBe(true);
  });

  it('checks the line first', () => {
    expect(refusal(() => parseOutbound(b('PRIVMSG #c :a\r\nQUIT'))).code).toBe('InjectionAttempt');
    expect(refusal(() => parseOutbound(b(':me PRIVMSG #c :a'))).code).toBe('InvalidLine');
  });
});

// Issue 14, item 7 (`!echo \x01VERSION\x01` made the bot send a CTCP request to the channel) and
// the JOIN 0 part of item 14 (it parted every channel for good).
describe('checkEffect', () => {
  const effect = (line: string | Buffer, opts?: { ctcp?: boolean }) => checkEffect(parseOutbound(typeof line === 'string' ? b(line) : line), opts);

  it.each([
    'PRIVMSG #c :plain text',
    'PRIVMSG #c :\x01ACTION waves\x01',
    'PRIVMSG #c :\x01ACTION waves',
    'PRIVMSG #c :\x01ACTION\x01',
    'NOTICE #c :\x01ACTION waves\x01',
    'JOIN #chan',
    'JOIN #a,#b key1,key2',
    'JOIN #0',
    'PART #c :0',
    'TOPIC #c :\x01 in a topic is no CTCP',
  ])('lets %j through', (line) => {
    expect(() => effect(line)).not.toThrow();
  });

  it.each([
    ['a CTCP request to a channel', 'PRIVMSG #c :\x01VERSION\x01'],
    ['a DCC offer', 'PRIVMSG nick :\x01DCC SEND x 2130706433 1 1\x01'],
    ['a CTCP reply', 'NOTICE nick :\x01VERSION evil\x01'],
    ['CTCP in the middle (ircII clients act on it)', 'PRIVMSG #c :hello \x01PING 1\x01'],
    ['a second CTCP after an ACTION', 'PRIVMSG #c :\x01ACTION hi\x01\x01VERSION\x01'],
    ['an ACTION with a \x01 inside', 'PRIVMSG #c :\x01ACTION a\x01b'],
    ['a single-word text without a colon', 'PRIVMSG #c \x01VERSION\x01'],
    ['a CTCP in a parameter before the last (servers that take the first extra parameter as the text)', 'PRIVMSG #c \x01VERSION\x01 x'],
    ['an ACTION split over parameters', 'PRIVMSG #c \x01ACTION waves\x01 x'],
  ])('refuses %s with CtcpNotAllowed', (_what, line) => {
    const err = refusal(() => effect(line));
    expect(err.code).toBe('CtcpNotAllowed');
    expect(err.hiveErrorName).toBe('Refused');
    expect(err.message).toContain('hive.ctcp');
  });

  it('lets CTCP through when the message asked for it (hive.ctcp)', () => {
    expect(() => effect('PRIVMSG nick :\x01VERSION\x01', { ctcp: true })).not.toThrow();
    expect(() => effect('NOTICE nick :\x01TIME 12:00\x01', { ctcp: true })).not.toThrow();
  });

  it('sees \x01 among bytes that are not UTF-8', () => {
    expect(refusal(() => effect(Buffer.concat([b('PRIVMSG #c :'), Buffer.from([0xff, 0x01]), b('VERSION'), Buffer.from([0x01])])))).toMatchObject({ code: 'CtcpNotAllowed' });
  });

  it.each(['JOIN 0', 'join 0', 'JOIN #a,0', 'JOIN 0 :key'])('refuses %j with JoinZero', (line) => {
    const err = refusal(() => effect(line));
    expect(err.code).toBe('JoinZero');
    expect(err.hiveErrorName).toBe('Refused');
  });
});
