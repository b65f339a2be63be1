import { describe, expect, it } from 'vitest';
import { TextDecoder } from 'node:util';
import {
  CLIENT_TAGS_MAX,
  DEFAULT_HOST_LENGTH,
  DEFAULT_USER_LENGTH,
  fitLine,
  IRC_LINE_MAX,
  relayPrefixLength,
  splitText,
} from './line-split.js';
import { checkLine, layoutOf, parseOutbound } from './line-safety.js';
import { OutboundRefused } from './outbound-error.js';

const b = (s: string): Buffer => Buffer.from(s, 'utf8');
const strict = new TextDecoder('utf-8', { fatal: true });
const isValidUtf8 = (buf: Buffer): boolean => {
  try {
    strict.decode(buf);
    return true;
  } catch {
    return false;
  }
};

function refusal(fn: () => unknown): OutboundRefused {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(OutboundRefused);
    return err as OutboundRefused;
  }
  throw new Error('expected OutboundRefused, nothing was thrown');
}

/** Asserts the invariants of any split: each part checks, fits, keeps command/target; returns the texts. */
function partsOf(lines: Buffer[], prefixLen: number, command: string, target: string): Buffer[] {
  return lines.map((line) => {
    checkLine(line);
    const { tagsSectionLength } = layoutOf(line);
    expect(prefixLen + (line.length - tagsSectionLength) + 2).toBeLessThanOrEqual(IRC_LINE_MAX);
    const p = parseOutbound(line);
    expect(p.command).toBe(command);
    expect(p.params).toHaveLength(2);
    expect(p.params[0]!.toString()).toBe(target);
    return p.params[1]!;
  });
}

describe('relayPrefixLength', () => {
  it('counts ":nick!user@host "', () => {
    expect(relayPrefixLength('hive', 'bot', 'example.org')).toBe(':hive!bot@example.org '.length);
  });

  it('counts bytes, not characters', () => {
    expect(relayPrefixLength('é', 'u', 'h')).toBe(1 + 2 + 1 + 1 + 1 + 1 + 1);
  });

  it('assumes ~ plus 10 for an unknown user and 63 for an unknown host', () => {
    expect(DEFAULT_USER_LENGTH).toBe(11);
    expect(DEFAULT_HOST_LENGTH).toBe(63);
    expect(relayPrefixLength('hive')).toBe(1 + 4 + 1 + 11 + 1 + 63 + 1);
    expect(relayPrefixLength('hive', 'bot')).toBe(1 + 4 + 1 + 3 + 1 + 63 + 1);
  });
});

describe('fitLine', () => {
  const prefix = relayPrefixLength('hive'); // 82
  const budget = IRC_LINE_MAX - 2 - prefix;

  it('returns a line that fits unchanged (same buffer)', () => {
    const line = b('PRIVMSG #c :hello');
    const out = fitLine(line, prefix);
    expect(out).toHaveLength(1);
    expect(out[0]).toBe(line);
  });

  it('accepts a line of exactly the budget and splits one byte more', () => {
    const head = 'PRIVMSG #c :';
    const exact = b(head + 'x'.repeat(budget - head.length));
    expect(fitLine(exact, prefix)).toEqual([exact]);
    const over = b(head + 'x'.repeat(budget - head.length + 1));
    const out = fitLine(over, prefix);
    expect(out).toHaveLength(2);
    expect(Buffer.concat(partsOf(out, prefix, 'PRIVMSG', '#c')).equals(parseOutbound(over).params[1]!)).toBe(true);
  });

  it('does not count tags toward the 512 bytes', () => {
    const tags = '@+draft/reply=' + 'a'.repeat(300) + ' ';
    const line = b(tags + 'PRIVMSG #c :' + 'x'.repeat(budget - 12));
    expect(fitLine(line, prefix)).toEqual([line]);
  });

  it('allows 4094 bytes of client tags and refuses one more', () => {
    const key = '+k=';
    const ok = b('@' + key + 'v'.repeat(CLIENT_TAGS_MAX - key.length) + ' TAGMSG #c');
    expect(fitLine(ok, prefix)).toEqual([ok]);
    const tooMany = b('@' + key + 'v'.repeat(CLIENT_TAGS_MAX - key.length + 1) + ' TAGMSG #c');
    const err = refusal(() => fitLine(tooMany, prefix));
    expect(err.code).toBe('LineTooLong');
    expect(err.message).toContain(`are ${CLIENT_TAGS_MAX + 1} bytes; expected at most ${CLIENT_TAGS_MAX} bytes of client tags`);
  });

  it('splits ASCII text at the last space and rejoins to the original', () => {
    const words = Array.from({ length: 300 }, (_, i) => `word${i}`).join(' ');
    const line = b(`PRIVMSG #chan :${words}`);
    const out = fitLine(line, prefix);
    expect(out.length).toBeGreaterThan(1);
    const texts = partsOf(out, prefix, 'PRIVMSG', '#chan');
    expect(Buffer.concat(texts).toString()).toBe(words);
    // every part but the last ends right after a space: no word is cut in two
    for (const t of texts.slice(0, -1)) expect(t.toString().endsWith(' ')).toBe(true);
  });

  it('cuts in the middle of a word when no space is in the latter half', () => {
    const text = 'a '.repeat(10) + 'x'.repeat(1000);
    const out = fitLine(b(`NOTICE nick :${text}`), prefix);
    const texts = partsOf(out, prefix, 'NOTICE', 'nick');
    expect(texts[0]!.length).toBe(budget - 'NOTICE nick :'.length);
    expect(Buffer.concat(texts).toString()).toBe(text);
  });

  it.each([
    ['é (2 bytes)', 'é'],
    ['日本語 (3 bytes)', '日本語'],
    ['emoji (4 bytes)', '😀'],
    ['mixed', 'aé日😀'],
  ])('never splits inside a UTF-8 character: %s', (_name, unit) => {
    // Shift the text by 0..3 ASCII bytes so that cuts land on every position within a character.
    for (let shift = 0; shift < 4; shift++) {
      const text = 'x'.repeat(shift) + unit.repeat(Math.ceil(2000 / Buffer.byteLength(unit)));
      const out = fitLine(b(`PRIVMSG #c :${text}`), prefix);
      expect(out.length).toBeGreaterThan(3);
      const texts = partsOf(out, prefix, 'PRIVMSG', '#c');
      for (const t of texts) expect(isValidUtf8(t)).toBe(true);
      expect(Buffer.concat(texts).toString()).toBe(text);
      for (const line of out) expect(isValidUtf8(line)).toBe(true);
    }
  });

  it('splits multi-byte text with spaces at spaces, valid and exact', () => {
    const text = Array.from({ length: 200 }, (_, i) => `日本語${i}é😀`).join(' ');
    const out = fitLine(b(`PRIVMSG #日本 :${text}`), prefix);
    const texts = partsOf(out, prefix, 'PRIVMSG', '#日本');
    for (const t of texts) expect(isValidUtf8(t)).toBe(true);
    for (const t of texts.slice(0, -1)) expect(t.toString().endsWith(' ')).toBe(true);
    expect(Buffer.concat(texts).toString()).toBe(text);
  });

  it('does not split before a continuation byte in text that is not UTF-8', () => {
    // Latin-1 style text with stray bytes: 0xe9 alone, and 0xe6 0x97 0xa5 lookalike sequences.
    const chunk = Buffer.from([0x61, 0xe9, 0x62, 0xe6, 0x97, 0xa5, 0xf0, 0x9f, 0x98]);
    const text = Buffer.concat(Array.from({ length: 200 }, () => chunk));
    const line = Buffer.concat([b('PRIVMSG #c :'), text]);
    const out = fitLine(line, prefix);
    const texts = partsOf(out, prefix, 'PRIVMSG', '#c');
    expect(Buffer.concat(texts).equals(text)).toBe(true);
    for (const t of texts.slice(1)) expect(t[0]! & 0xc0).not.toBe(0x80);
  });

  it('keeps each part of a CTCP ACTION wrapped', () => {
    const inner = Array.from({ length: 150 }, (_, i) => `dances ${i} 💃`).join(' ');
    const out = fitLine(b(`PRIVMSG #c :\x01ACTION ${inner}\x01`), prefix);
    expect(out.length).toBeGreaterThan(1);
    const texts = partsOf(out, prefix, 'PRIVMSG', '#c').map((t) => t.toString());
    for (const t of texts) {
      expect(t.startsWith('\x01ACTION ')).toBe(true);
      expect(t.endsWith('\x01')).toBe(true);
    }
    expect(texts.map((t) => t.slice(8, -1)).join('')).toBe(inner);
  });

  it('closes ACTION parts even when the original lacked the closing \\x01', () => {
    const inner = 'y'.repeat(1000);
    const out = fitLine(b(`PRIVMSG #c :\x01ACTION ${inner}`), prefix);
    const texts = partsOf(out, prefix, 'PRIVMSG', '#c').map((t) => t.toString());
    for (const t of texts) expect(t).toMatch(/^\x01ACTION y+\x01$/);
    expect(texts.map((t) => t.slice(8, -1)).join('')).toBe(inner);
  });

  it('refuses to split another CTCP', () => {
    const err = refusal(() => fitLine(b(`NOTICE nick :\x01VERSION ${'v'.repeat(600)}\x01`), prefix));
    expect(err.code).toBe('LineTooLong');
    expect(err.message).toContain('a CTCP other than ACTION cannot be split');
  });

  it('repeats the tags on every part', () => {
    const tags = '@+draft/reply=abc';
    const out = fitLine(b(`${tags} PRIVMSG #c :${'z '.repeat(500)}`), prefix);
    expect(out.length).toBeGreaterThan(1);
    for (const line of out) expect(parseOutbound(line).tags).toBe('+draft/reply=abc');
    partsOf(out, prefix, 'PRIVMSG', '#c');
  });

  it('emits the text as a trailing parameter even if it was a middle one', () => {
    const word = 'w'.repeat(600);
    const out = fitLine(b(`privmsg #c ${word}`), prefix);
    expect(out[0]!.toString().startsWith('PRIVMSG #c :')).toBe(true);
    expect(Buffer.concat(partsOf(out, prefix, 'PRIVMSG', '#c')).toString()).toBe(word);
  });

  it('uses the prefix length it is given', () => {
    const text = 'x'.repeat(1000);
    const small = fitLine(b(`PRIVMSG #c :${text}`), 0);
    const large = fitLine(b(`PRIVMSG #c :${text}`), 200);
    expect(large.length).toBeGreaterThan(small.length);
    partsOf(small, 0, 'PRIVMSG', '#c');
    partsOf(large, 200, 'PRIVMSG', '#c');
  });

  it('refuses other commands that are too long, naming sizes and the limit', () => {
    const line = b(`KICK #c nick :${'r'.repeat(600)}`);
    const err = refusal(() => fitLine(line, prefix));
    expect(err.code).toBe('LineTooLong');
    expect(err.message).toContain(`is ${line.length} bytes without tags`);
    expect(err.message).toContain(`relay prefix (${prefix} bytes)`);
    expect(err.message).toContain(`expected at most ${budget} bytes`);
    expect(err.message).toContain('only PRIVMSG and NOTICE are split');
  });

  it('refuses a PRIVMSG that is not target + text', () => {
    const err = refusal(() => fitLine(b(`PRIVMSG #c a ${'b'.repeat(600)}`), prefix));
    expect(err.code).toBe('LineTooLong');
    expect(err.message).toContain('exactly a target and a text, got 3 parameters');
  });

  it('refuses when the target leaves no room for text', () => {
    const err = refusal(() => fitLine(b(`PRIVMSG #${'c'.repeat(500)} :hello there`), prefix));
    expect(err.code).toBe('LineTooLong');
    expect(err.message).toContain('leaves no room for text');
  });

  it('checks the line before anything else', () => {
    expect(refusal(() => fitLine(b(`PRIVMSG #c :${'x'.repeat(600)}\r\nQUIT`), prefix)).code).toBe('InjectionAttempt');
    expect(refusal(() => fitLine(b(':evil PRIVMSG #c :x'), prefix)).code).toBe('InvalidLine');
  });

  it('rejects a nonsensical prefix length', () => {
    expect(() => fitLine(b('PRIVMSG #c :x'), -1)).toThrow(RangeError);
    expect(() => fitLine(b('PRIVMSG #c :x'), 1.5)).toThrow(RangeError);
  });
});

describe('splitText', () => {
  it('returns the text alone when it fits, even empty', () => {
    expect(splitText(b('abc'), 4).map(String)).toEqual(['abc']);
    expect(splitText(b(''), 4).map(String)).toEqual(['']);
  });

  it('prefers the last space in the latter half of the room', () => {
    expect(splitText(b('aaaa bbbb cc'), 8).map(String)).toEqual(['aaaa ', 'bbbb cc']);
    // the only space is in the first half: cut at the full room instead
    expect(splitText(b('a bbbbbbbbbb'), 8).map(String)).toEqual(['a bbbbbb', 'bbbb']);
  });

  it('uses the full room for a run of continuation bytes longer than any character', () => {
    const text = Buffer.alloc(20, 0x80);
    const parts = splitText(text, 8);
    expect(parts.map((p) => p.length)).toEqual([8, 8, 4]);
  });

  it('makes progress with the smallest room and 4-byte characters', () => {
    const text = b('😀😀😀');
    expect(splitText(text, 4).map(String)).toEqual(['😀', '😀', '😀']);
    expect(splitText(text, 7).map(String)).toEqual(['😀', '😀', '😀']);
    expect(() => splitText(text, 3)).toThrow(RangeError);
  });
});
