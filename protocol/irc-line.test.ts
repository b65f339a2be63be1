import { describe, expect, it } from 'vitest';
import { ircLower, parseLine } from './irc-line.js';

describe('irc-line', () => {
  it('folds case the rfc1459 way', () => {
    expect(ircLower('Nick[A]\\~')).toBe('nick{a}|^');
  });
  it('parses a line with irc-framework, the command upper-cased', () => {
    expect(parseLine(':a!b@c privmsg #x :hi there')).toMatchObject({ nick: 'a', command: 'PRIVMSG', params: ['#x', 'hi there'] });
  });
});
