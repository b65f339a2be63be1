import { describe, expect, it } from 'vitest';
import { seconds, splitStages } from './stages.js';

const known = new Set(['reverse', 'rot13', 'upper', 'echo']);
const isCommand = (w: string) => known.has(w);
const split = (args: string) => splitStages(args, isCommand, '!compose CMD [CMD...] TEXT');

describe('splitStages', () => {
  it('takes the leading command words as stages and keeps the text as written', () => {
    expect(split('reverse hello')).toEqual({ ok: true, stages: ['reverse'], text: 'hello' });
    expect(split('Reverse ROT13 upper  Hello   World ')).toEqual({ ok: true, stages: ['reverse', 'rot13', 'upper'], text: 'Hello   World' });
    // The first word that is not a command starts the text, even if commands follow.
    expect(split('reverse frob upper')).toEqual({ ok: true, stages: ['reverse'], text: 'frob upper' });
  });

  it('names an unknown first command, and says what is missing', () => {
    expect(split('frob hello')).toEqual({ ok: false, error: "no plugin here answers 'frob'" });
    expect(split('')).toEqual({ ok: false, error: 'usage: !compose CMD [CMD...] TEXT' });
    expect(split('reverse rot13')).toEqual({ ok: false, error: 'nothing to compose: put a text after the commands (!compose CMD [CMD...] TEXT)' });
  });
});

describe('seconds', () => {
  it('writes seconds briefly', () => {
    expect(seconds(3)).toBe('3s');
    expect(seconds(0.5)).toBe('0.5s');
    expect(seconds(1 / 3)).toBe('0.333s');
  });
});
