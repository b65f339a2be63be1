import { describe, expect, it } from 'vitest';
import { ircLower } from '../../protocol/sdk/index.js';
import { classifyText, colourOf, eventText, NICK_COLOURS, plainText, showNick, speechHead, trailingBytes, ZWSP } from './format.js';

const on = { colour: true, noHighlight: true };

describe('nick colours', () => {
  it('gives a nick the same readable colour every time, whatever its case', () => {
    for (const nick of ['alice', 'bob', 'carol', 'x', 'Nick[away]', 'ünïcode']) {
      const c = colourOf(nick);
      expect(NICK_COLOURS).toContain(c);
      expect(colourOf(nick)).toBe(c);
      expect(colourOf(nick.toUpperCase())).toBe(colourOf(nick));
    }
    // RFC 1459 folding: [ and { are one letter.
    expect(colourOf('nick[a]')).toBe(colourOf('NICK{A}'));
    for (const bad of [0, 1, 8, 11, 14, 15]) expect(NICK_COLOURS).not.toContain(bad);
  });

  it('spreads nicks over the palette', () => {
    const used = new Set(Array.from({ length: 200 }, (_, i) => colourOf(`user${i}`)));
    expect(used.size).toBe(NICK_COLOURS.length);
  });

  it('wraps only the nick, with two digits, and breaks the highlight after the first character', () => {
    const c = String(colourOf('alice')).padStart(2, '0');
    expect(showNick('alice', on)).toBe(`\x03${c}a${ZWSP}lice\x03`);
    expect(showNick('alice', { colour: false, noHighlight: true })).toBe(`a${ZWSP}lice`);
    expect(showNick('alice', { colour: false, noHighlight: false })).toBe('alice');
    expect(showNick('x', { colour: false, noHighlight: true })).toBe('x');
    // Astral characters stay whole.
    expect(showNick('😀bc', { colour: false, noHighlight: true })).toBe(`😀${ZWSP}bc`);
    expect(plainText(`<${showNick('alice', on)}> hi`)).toBe('<alice> hi');
  });

  it('folds case the IRC way', () => {
    expect(ircLower('Nick[]\\~')).toBe('nick{}|^');
  });
});

describe('relay texts', () => {
  it('heads for messages, actions and notices', () => {
    const off = { colour: false, noHighlight: false };
    expect(speechHead('message', 'bob', off)).toBe('<bob> ');
    expect(speechHead('action', 'bob', off)).toBe('* bob ');
    expect(speechHead('notice', 'bob', off)).toBe('-bob- ');
    expect(plainText(speechHead('message', 'bob', on))).toBe('<bob> ');
  });

  it('events', () => {
    const off = { colour: false, noHighlight: false };
    expect(eventText({ type: 'join', nick: 'a' }, off)).toBe('* a has joined');
    expect(eventText({ type: 'part', nick: 'a', reason: 'bye' }, off)).toBe('* a has left (bye)');
    expect(eventText({ type: 'part', nick: 'a' }, off)).toBe('* a has left');
    expect(eventText({ type: 'quit', nick: 'a', reason: 'Ping timeout' }, off)).toBe('* a has quit (Ping timeout)');
    expect(eventText({ type: 'kick', nick: 'a', by: 'op', reason: 'spam' }, off)).toBe('* a was kicked by op (spam)');
    expect(eventText({ type: 'nick', nick: 'a', newNick: 'b' }, off)).toBe('* a is now known as b');
  });
});

describe('trailingBytes', () => {
  const t = (s: string) => trailingBytes(Buffer.from(s, 'latin1'))?.toString('latin1');
  it('finds the text of a line with or without tags, prefix and colon', () => {
    expect(t(':alice!a@h PRIVMSG #hive :hello there')).toBe('hello there');
    expect(t('@time=2020;account=x :alice!a@h PRIVMSG #hive :a :b c')).toBe('a :b c');
    expect(t(':alice!a@h PRIVMSG #hive hello')).toBe('hello');
    expect(t(':alice!a@h PRIVMSG #hive :')).toBe('');
    expect(t('PRIVMSG #hive ::-)')).toBe(':-)');
    expect(t(':server QUIT')).toBeUndefined();
  });
  it('keeps bytes that are not UTF-8', () => {
    const line = Buffer.concat([Buffer.from(':a!b@c PRIVMSG #x :caf'), Buffer.from([0xe9, 0xff])]);
    expect(trailingBytes(line)).toEqual(Buffer.from([0x63, 0x61, 0x66, 0xe9, 0xff]));
  });
});

describe('classifyText', () => {
  const c = (s: string) => {
    const r = classifyText(Buffer.from(s));
    return r.kind === 'ctcp' ? r : { kind: r.kind, body: r.body.toString() };
  };
  it('tells speech, actions and other CTCP apart', () => {
    expect(c('hello')).toEqual({ kind: 'plain', body: 'hello' });
    expect(c('\x01ACTION waves\x01')).toEqual({ kind: 'action', body: 'waves' });
    expect(c('\x01ACTION waves')).toEqual({ kind: 'action', body: 'waves' });
    expect(c('\x01ACTION\x01')).toEqual({ kind: 'action', body: '' });
    expect(c('\x01VERSION\x01')).toEqual({ kind: 'ctcp' });
  });
});
