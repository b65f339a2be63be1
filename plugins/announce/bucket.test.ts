import { describe, expect, it } from 'vitest';
import { createBucket } from './bucket.js';

describe('announce rate bucket', () => {
  it('gives a burst, then one token per 1/per_s seconds, and says how long to wait', () => {
    let t = 0;
    const b = createBucket(3, 0.5, () => t);
    expect([b.take(), b.take(), b.take()]).toEqual([0, 0, 0]);
    expect(b.take()).toBe(2000);
    t = 1500;
    expect(b.take()).toBeCloseTo(500);
    t = 2000;
    expect(b.take()).toBe(0);
    expect(b.take()).toBeCloseTo(2000);
    // A long pause refills only up to the burst.
    t = 1_000_000;
    expect([b.take(), b.take(), b.take()]).toEqual([0, 0, 0]);
    expect(b.take()).toBeGreaterThan(0);
  });
});
