import { describe, expect, it } from 'vitest';
import { RecentRelays } from './echo.js';

describe('RecentRelays', () => {
  it('recognises a relayed text, or a split part of it, on the network it went to, for a while', () => {
    const r = new RecentRelays(1000);
    r.remember('a', '<alice> hello there, this is long', 0);
    expect(r.has('a', '<alice> hello there, this is long', 10)).toBe(true);
    expect(r.has('a', 'this is long', 10)).toBe(true);
    expect(r.has('b', '<alice> hello there, this is long', 10)).toBe(false);
    expect(r.has('a', '<bob> hi', 10)).toBe(false);
    expect(r.has('a', '', 10)).toBe(false);
    expect(r.has('a', 'this is long', 1000)).toBe(false);
  });

  it('keeps a bounded number per network', () => {
    const r = new RecentRelays(1000, 3);
    for (let i = 0; i < 5; i++) r.remember('a', `t${i}`, i);
    expect(['t0', 't1', 't2', 't3', 't4'].map((t) => r.has('a', t, 10))).toEqual([false, false, true, true, true]);
  });
});
