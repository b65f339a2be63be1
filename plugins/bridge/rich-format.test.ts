import { describe, expect, it } from 'vitest';
import { applySubstitution, correctionLines, isRoom, oneWordChange, parseSubstitution, quoteOf, replyPrefix, stripFormatting } from './rich-format.js';

describe('rich format', () => {
  it('tells an XMPP room from an IRC channel by its name', () => {
    expect(isRoom('#hive@conference.localhost')).toBe(true);
    expect(isRoom('#hive')).toBe(false);
    expect(isRoom('#a@b@c')).toBe(false);
    expect(isRoom('&x@y')).toBe(false);
  });

  it('quotes one line, short, cut at a word', () => {
    expect(quoteOf('hello\n  world')).toBe('hello world');
    const long = 'the quick brown fox jumps over the lazy dog and keeps running far away from here';
    const q = quoteOf(long);
    expect(q.endsWith('…')).toBe(true);
    expect(Array.from(q).length).toBeLessThanOrEqual(61);
    expect(long.startsWith(q.slice(0, -1))).toBe(true);
    // A huge unbroken text is cut too (hostile quote).
    expect(Array.from(quoteOf('y'.repeat(100_000))).length).toBe(61);
    expect(quoteOf('\x02bold\x02 \x0304red')).toBe('bold red');
    expect(replyPrefix('bob', 'first words')).toBe('↪ bob: "first words" — ');
  });

  it('strips mIRC formatting, keeps the text', () => {
    expect(stripFormatting('\x02bold\x02 \x0304,01red\x03 \x1ditalic\x1d \x0fplain \x04ff0000hex')).toBe('bold red italic plain hex');
  });

  it('shows a one-word change as s/old/new/, anything else as a marked correction', () => {
    expect(correctionLines({ text: 'I like teh cats', truncated: false }, 'I like the cats')).toEqual(['s/teh/the/']);
    expect(correctionLines({ text: 'I like cats', truncated: false }, 'I really like dogs')).toEqual(['* correction: I really like dogs']);
    expect(correctionLines(undefined, 'new\ntext')).toEqual(['* correction: new', 'text']);
    // Cut texts, ambiguous words, slashes: the full text.
    expect(correctionLines({ text: 'I like teh cats', truncated: true }, 'I like the cats')).toEqual(['* correction: I like the cats']);
    expect(oneWordChange('a cat and a dog', 'a cat and an dog')).toBeUndefined(); // "a" is in "cat" and twice alone
    expect(oneWordChange('use a/b here', 'use a/c here')).toBeUndefined();
    expect(oneWordChange('same', 'same')).toBeUndefined();
    expect(oneWordChange('x y', 'x y z')).toBeUndefined();
  });

  it('reads an IRC user\'s s/old/new/ literally and applies it to the first match', () => {
    expect(parseSubstitution('s/teh/the/')).toEqual({ from: 'teh', to: 'the' });
    expect(parseSubstitution('s/teh/the')).toEqual({ from: 'teh', to: 'the' });
    expect(parseSubstitution('s/gone//')).toEqual({ from: 'gone', to: '' });
    expect(parseSubstitution('so/what/now/')).toBeUndefined();
    expect(parseSubstitution('s//x/')).toBeUndefined();
    expect(applySubstitution('a.b a.b', { from: 'a.b', to: 'c' })).toBe('c a.b');
    expect(applySubstitution('hello', { from: 'x', to: 'y' })).toBeUndefined();
  });
});
