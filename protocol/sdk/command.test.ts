import { describe, expect, it } from 'vitest';
import { parseLine } from '../irc-line.js';
import { parseCommand } from './command.js';

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
