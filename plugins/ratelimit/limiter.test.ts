import { describe, expect, it } from 'vitest';
import { Limiter } from './limiter.js';

describe('Limiter', () => {
  it('accepts max per window, asks for one notice, then silence until the oldest slot frees', () => {
    const l = new Limiter(3, 10_000);
    expect([0, 1, 2].map((t) => l.check('a', t).ok)).toEqual([true, true, true]);
    expect(l.check('a', 3)).toEqual({ ok: false, notice: true, waitMs: 9997 });
    expect(l.check('a', 4)).toEqual({ ok: false, notice: false, waitMs: 9996 });
    expect(l.check('a', 9_999)).toMatchObject({ ok: false, notice: false });
    expect(l.limited(5000)).toBe(1);
    // Another user is not affected.
    expect(l.check('b', 5)).toEqual({ ok: true });
    // The first slot (t=0) frees at 10 000: one more, then limited again, with a new notice.
    expect(l.check('a', 10_000)).toEqual({ ok: true });
    expect(l.check('a', 10_000)).toEqual({ ok: false, notice: true, waitMs: 1 });
  });

  it('refused events do not lengthen the wait, and idle users are forgotten', () => {
    const l = new Limiter(1, 1000);
    expect(l.check('a', 0).ok).toBe(true);
    for (let t = 100; t < 1000; t += 100) expect(l.check('a', t).ok).toBe(false);
    expect(l.check('a', 1000).ok).toBe(true);
    expect(l.size).toBe(1);
    l.check('b', 5000); // a sweep: a is long idle
    expect(l.size).toBe(1);
  });
});
