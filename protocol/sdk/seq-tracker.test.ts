import { describe, expect, it } from 'vitest';
import { SeqTracker } from './seq-tracker.js';

const NOW = 1_700_000_000_000; // ms
const us = (ms: number) => ms * 1000; // hive.seq counts microseconds

describe('SeqTracker', () => {
  it('takes a higher number as new and remembers it per network', () => {
    const t = new SeqTracker();
    expect(t.check('a', us(NOW), NOW)).toBe('new');
    expect(t.check('a', us(NOW) + 1, NOW)).toBe('new');
    expect(t.check('b', 5, NOW)).toBe('new');
    expect(t.snapshot()).toEqual({ a: us(NOW) + 1, b: 5 });
  });

  it('takes a number at most `window` below the last as seen (the replay overlap), and the last itself', () => {
    const t = new SeqTracker({ window: 10 });
    t.check('a', 100, NOW);
    expect(t.check('a', 100, NOW)).toBe('seen');
    expect(t.check('a', 90, NOW)).toBe('seen');
    expect(t.lastOf('a')).toBe(100);
  });

  it('starts over from a number further below than the window (a new numbering)', () => {
    const t = new SeqTracker({ window: 10 });
    t.check('a', 100, NOW);
    expect(t.check('a', 89, NOW)).toBe('reset');
    expect(t.lastOf('a')).toBe(89);
    expect(t.check('a', 90, NOW)).toBe('new');
  });

  it('delivers a number from the future but does not remember it', () => {
    const t = new SeqTracker({ futureMs: 60_000 });
    t.check('a', us(NOW), NOW);
    expect(t.check('a', us(NOW + 61_000), NOW)).toBe('forged');
    expect(t.lastOf('a')).toBe(us(NOW));
    expect(t.check('a', us(NOW + 59_000), NOW)).toBe('new');
  });

  it('remembers at most maxNetworks networks; a known one still counts', () => {
    const t = new SeqTracker({ maxNetworks: 2 });
    t.check('a', 1, NOW);
    t.check('b', 1, NOW);
    expect(t.check('c', 1, NOW)).toBe('untracked');
    expect(t.check('c', 2, NOW)).toBe('untracked');
    expect(t.check('a', 2, NOW)).toBe('new');
    expect(Object.keys(t.snapshot())).toEqual(['a', 'b']);
  });

  it('restores what a save wrote, skipping what is no count and forgetting a number from the future', () => {
    const t = new SeqTracker({ futureMs: 60_000 });
    const { forgotten } = t.restore({ a: 7, b: -1, c: 1.5, d: 'x', e: us(NOW + 120_000) }, NOW);
    expect(t.snapshot()).toEqual({ a: 7 });
    expect(forgotten).toEqual([['e', us(NOW + 120_000)]]);
    expect(t.check('a', 7, NOW)).toBe('seen');
  });

  it('restores nothing from what is not an object', () => {
    for (const saved of [null, 3, 'x', [1, 2]]) {
      const t = new SeqTracker();
      expect(t.restore(saved, NOW)).toEqual({ forgotten: [] });
      expect(t.snapshot()).toEqual({});
    }
  });
});
