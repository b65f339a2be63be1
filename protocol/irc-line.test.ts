import { describe, expect, it } from 'vitest';
// Only to compare with: protocol/irc-line.ts no longer loads it.
import ircLineParser from 'irc-framework/src/irclineparser.js';
import { ircLower, parseLine } from './irc-line.js';

/** irc-framework's parse as protocol/irc-line.ts used to return it. */
function theirs(text: string) {
  const p = ircLineParser(text);
  if (!p || !p.command) return undefined;
  return { ...p, command: p.command.toUpperCase() };
}

const CORPUS = [
  ':a!b@c privmsg #x :hi there',
  '@time=2026-01-01T00:00:00.000Z;account=alice :alice!a@host PRIVMSG #c :!ping',
  '@a=b\\:c\\sd\\\\e\\nf\\rg\\x\\;+draft/k=;novalue;=v;K=UP :srv.example 001 me :Welcome',
  ':irc.example.net 353 me = #chan :@op +voice plain',
  'PING :irc.example.net',
  ':nick JOIN #c',
  ':nick@host PART #c',
  ':nick!user QUIT',
  'PRIVMSG',
  ':only-a-prefix',
  '',
  '   ',
  '@tags-only',
  ':a!b@c PRIVMSG #x :',
  ':a!b@c PRIVMSG #x  :two spaces',
  ':a!b@c PRIVMSG #x a:b :c d',
  '\r\n:a!b@c NOTICE x :y\r\n',
  ':a!b@c PRIVMSG #x :\u00e9\ufffd\u0001ACTION waves\u0001',
  '@__proto__=x;constructor=y :a!b@c TAGMSG #x',
];

describe('irc-line', () => {
  it('folds case the rfc1459 way', () => {
    expect(ircLower('Nick[A]\\~')).toBe('nick{a}|^');
  });

  it('parses as irc-framework does, on a corpus of ordinary and odd lines', () => {
    for (const line of CORPUS) expect([line, parseLine(line)]).toEqual([line, theirs(line)]);
    expect(parseLine(':a!b@c privmsg #x :hi there')).toMatchObject({ nick: 'a', ident: 'b', hostname: 'c', command: 'PRIVMSG', params: ['#x', 'hi there'] });
  });

  it('parses as irc-framework does, on 20,000 random lines of IRC punctuation', () => {
    const alphabet = ['a', 'B', '1', ' ', ' ', ':', '@', '!', '.', ';', '=', '\\', 's', ':', '#', '\r', '\n', 'é', '\u0000'];
    let seed = 17;
    const rand = (n: number) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
    for (let i = 0; i < 20_000; i++) {
      let line = '';
      for (let n = rand(40); n > 0; n--) line += alphabet[rand(alphabet.length)];
      const ours = parseLine(line);
      const expected = theirs(line);
      if (JSON.stringify(ours) !== JSON.stringify(expected)) expect([line, ours]).toEqual([line, expected]);
    }
  });

  it('a tag named __proto__ is a tag, not a prototype', () => {
    const p = parseLine('@__proto__=x :a!b@c TAGMSG #x')!;
    expect(p.tags.__proto__).toBe('x');
    expect(Object.getPrototypeOf(p.tags)).toBe(null);
  });
});
