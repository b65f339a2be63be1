import { describe, expect, it } from 'vitest';
import { countGroups, firstCommandWord, hasBrackets, innerWords, parseBrackets, substitute, type Group } from './brackets.js';

const parsed = (text: string): Group => {
  const p = parseBrackets(text);
  if (!p.ok) throw new Error(p.error);
  return p.top;
};

/** A fake subtree: `reverse`, `upper`, `echo`; records what it was asked, in order. */
function fakeAsk() {
  const asked: string[] = [];
  const ask = async (cmd: string) => {
    asked.push(cmd);
    const [w, ...rest] = cmd.split(' ');
    const arg = rest.join(' ');
    if (w === 'reverse') return [...arg].reverse().join('');
    if (w === 'upper') return arg.toUpperCase();
    if (w === 'echo') return arg;
    throw new Error(`unknown ${w}`);
  };
  return { ask, asked };
}

describe('parseBrackets', () => {
  it('keeps a text without brackets as one piece', () => {
    expect(parsed('echo hello')).toEqual({ parts: ['echo hello'] });
    expect(hasBrackets('echo hello')).toBe(false);
    expect(hasBrackets('echo \\[x')).toBe(true);
  });

  it('nests groups at any depth', () => {
    expect(parsed('echo [upper [reverse abc]] !')).toEqual({
      parts: ['echo ', { parts: ['upper ', { parts: ['reverse abc'] }] }, ' !'],
    });
    expect(countGroups(parsed('echo [upper [reverse abc]] [echo x]'))).toBe(3);
  });

  it('reads \\[, \\] and \\\\ as the characters themselves, other backslashes as they are', () => {
    expect(parsed('echo \\[not a command\\]')).toEqual({ parts: ['echo [not a command]'] });
    expect(parsed('echo \\\\[reverse ab]')).toEqual({ parts: ['echo \\', { parts: ['reverse ab'] }] });
    expect(parsed('echo C:\\dir [echo \\]]')).toEqual({ parts: ['echo C:\\dir ', { parts: ['echo ]'] }] });
  });

  it('refuses unbalanced and empty brackets with a reason', () => {
    const err = (t: string) => { const p = parseBrackets(t); return p.ok ? 'ok' : p.error; };
    expect(err('echo [reverse hello')).toMatch(/unbalanced brackets: 1 '\[' never closed/);
    expect(err('echo [[reverse hello]')).toMatch(/unbalanced brackets: 1 '\[' never closed/);
    expect(err('echo reverse] hello')).toMatch(/unbalanced brackets: a '\]' without its '\['.*character 13/);
    expect(err('echo [] x')).toMatch(/empty brackets/);
    expect(err('echo [  ] x')).toMatch(/empty brackets/);
    expect(err('echo [[echo reverse] x]')).toBe('ok');
  });
});

describe('command words', () => {
  it('finds the command words written out, and the first of a text', () => {
    expect(innerWords(parsed('echo [upper [Reverse abc]] [echo x]'))).toEqual(['upper', 'reverse', 'echo']);
    // A word made by a group cannot be known beforehand.
    expect(innerWords(parsed('echo [re[echo verse] x]'))).toEqual(['echo']);
    expect(innerWords(parsed('echo [[echo reverse] x]'))).toEqual(['echo']);
    expect(firstCommandWord(parsed('Echo [reverse x]'))).toBe('echo');
    expect(firstCommandWord(parsed('[reverse ohce] x'))).toBe('reverse');
    expect(firstCommandWord(parsed(' [ [upper x] ] y'))).toBe('upper');
  });
});

describe('substitute', () => {
  it('asks inner-most first, left to right, and puts each answer in place', async () => {
    const { ask, asked } = fakeAsk();
    expect(await substitute(parsed('echo [upper [reverse abc]] and [reverse xy]'), ask)).toBe('echo CBA and yx');
    expect(asked).toEqual(['reverse abc', 'upper cba', 'reverse xy']);
  });

  it('trims the inner command; an answer may make the next command word', async () => {
    const { ask, asked } = fakeAsk();
    expect(await substitute(parsed('[ [echo reverse] ab ] c'), ask)).toBe('ba c');
    expect(asked).toEqual(['echo reverse', 'reverse ab']);
  });

  it('leaves escaped brackets alone and asks nothing', async () => {
    const { ask, asked } = fakeAsk();
    expect(await substitute(parsed('echo \\[reverse x\\]'), ask)).toBe('echo [reverse x]');
    expect(asked).toEqual([]);
  });
});
