import { describe, expect, it } from 'vitest';
import { parseLine } from '../irc-line.js';
import { argsBytesOf, lastParamBytes, parseCommand } from './command.js';

const cmd = (raw: string, nick = 'hive', prefix = '!') => parseCommand(parseLine(raw)!, nick, prefix);

describe('parseCommand', () => {
  it('finds a prefixed command in a channel and replies to the channel', () => {
    expect(cmd(':bob!u@h PRIVMSG #c :!Echo  hello there ')).toMatchObject({ name: 'echo', args: 'hello there', nick: 'bob', replyTo: '#c', isPrivate: false });
  });
  it('finds a command addressed to the nick with a colon or a comma', () => {
    expect(cmd(':bob!u@h PRIVMSG #c :hive: ping')).toMatchObject({ name: 'ping' });
    expect(cmd(':bob!u@h PRIVMSG #c :HIVE, ping')).toMatchObject({ name: 'ping' });
  });
  it('takes a private message without prefix as a command, answered privately', () => {
    expect(cmd(':bob!u@h PRIVMSG hive :ping')).toMatchObject({ name: 'ping', replyTo: 'bob', isPrivate: true });
  });
  it('ignores ordinary channel talk and other commands', () => {
    expect(cmd(':bob!u@h PRIVMSG #c :just ping')).toBeUndefined();
    expect(cmd(':bob!u@h NOTICE #c :!ping')).toBeUndefined();
    expect(cmd(':bob!u@h PRIVMSG #c :!')).toBeUndefined();
  });
  it('honours a configured prefix', () => {
    expect(cmd(':bob!u@h PRIVMSG #c :.ping', 'hive', '.')).toMatchObject({ name: 'ping' });
    expect(cmd(':bob!u@h PRIVMSG #c :!ping', 'hive', '.')).toBeUndefined();
  });
});

// Issue 14, item 7: `!echo` of bytes that are not UTF-8 came back with U+FFFD.
describe('argsBytesOf', () => {
  const raw = (...parts: (string | number[])[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));
  const bytesOf = (line: Buffer, nick = 'hive', prefix = '!') => {
    const parsed = parseCommand(parseLine(line)!, nick, prefix)!;
    return argsBytesOf(line, parsed);
  };

  it('gives the bytes of the arguments as sent, invalid UTF-8 included', () => {
    expect(bytesOf(raw(':bob!u@h PRIVMSG #c :!echo caf', [0xe9], ' ', [0xff, 0xfe, 0x80]))).toEqual(Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x20, 0xff, 0xfe, 0x80]));
  });
  it('trims as args does, and works addressed by nick, in private and with tags', () => {
    expect(bytesOf(raw(':bob!u@h PRIVMSG #c :!echo   x', [0xe9], '  '))).toEqual(Buffer.from([0x78, 0xe9]));
    expect(bytesOf(raw('@time=2020-01-01T00:00:00Z :bob!u@h PRIVMSG #c :HIVE, echo ', [0xc3], 'é'))).toEqual(raw([0xc3], 'é'));
    expect(bytesOf(raw(':bob!u@h PRIVMSG hive :echo ', [0x80]))).toEqual(Buffer.from([0x80]));
  });
  it('keeps valid UTF-8 as it is, and is empty without arguments', () => {
    expect(bytesOf(raw(':bob!u@h PRIVMSG #c :!echo 日本語 😀'))).toEqual(Buffer.from('日本語 😀'));
    expect(bytesOf(raw(':bob!u@h PRIVMSG #c :!echo'))).toEqual(Buffer.alloc(0));
    expect(bytesOf(raw(':bob!u@h PRIVMSG #c !echo'))).toEqual(Buffer.alloc(0));
  });
  it('falls back to the text when the prefix itself was not UTF-8', () => {
    const line = raw(':bob!u@h PRIVMSG #c :', [0xff], 'echo hi');
    const parsed = parseCommand(parseLine(line)!, 'hive', '\uFFFD')!;
    expect(parsed.args).toBe('hi');
    expect(argsBytesOf(line, parsed)).toEqual(Buffer.from('hi'));
  });
  it('finds the last parameter in the raw bytes', () => {
    expect(lastParamBytes(raw(':a!b@c PRIVMSG #c :x y z'))?.toString()).toBe('x y z');
    expect(lastParamBytes(raw('@k=v :a!b@c PRIVMSG #c word'))?.toString()).toBe('word');
    expect(lastParamBytes(raw('PING'))).toBeUndefined();
  });
});
