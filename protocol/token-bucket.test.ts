import { describe, expect, it } from 'vitest';
import { createTokenBucket, DEFAULT_BURST, DEFAULT_RATE_PER_SEC } from './token-bucket.js';

function fakeClock(start = 1000) {
  let t = start;
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
    set: (ms: number) => {
      t = ms;
    },
  };
}

describe('createTokenBucket', () => {
  it('starts full: the burst goes out at once, then it refuses', () => {
    const clock = fakeClock();
    const bucket = createTokenBucket({ burst: 3, ratePerSec: 1, now: clock.now });
    expect([bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, true]);
    expect(bucket.take()).toBe(false);
    expect(bucket.nextAvailableInMs()).toBe(1000);
  });

  it('refills continuously at the rate', () => {
    const clock = fakeClock();
    const bucket = createTokenBucket({ burst: 2, ratePerSec: 2, now: clock.now });
    bucket.take();
    bucket.take();
    clock.advance(250);
    expect(bucket.available()).toBeCloseTo(0.5);
    expect(bucket.take()).toBe(false);
    expect(bucket.nextAvailableInMs()).toBe(250);
    clock.advance(250);
    expect(bucket.nextAvailableInMs()).toBe(0);
    expect(bucket.take()).toBe(true);
    expect(bucket.take()).toBe(false);
  });

  it('a failed take changes nothing', () => {
    const clock = fakeClock();
    const bucket = createTokenBucket({ burst: 1, ratePerSec: 1, now: clock.now });
    bucket.take();
    clock.advance(600);
    for (let i = 0; i < 10; i++) expect(bucket.take()).toBe(false);
    expect(bucket.nextAvailableInMs()).toBe(400);
  });

  it('caps the tokens at burst after a long quiet period', () => {
    const clock = fakeClock();
    const bucket = createTokenBucket({ burst: 4, ratePerSec: 1, now: clock.now });
    bucket.take();
    clock.advance(3_600_000);
    expect(bucket.available()).toBe(4);
    let n = 0;
    while (bucket.take()) n++;
    expect(n).toBe(4);
  });

  it('waiting exactly nextAvailableInMs always lets the next take succeed', () => {
    const clock = fakeClock(0.1);
    const bucket = createTokenBucket({ burst: 3, ratePerSec: 0.7, now: clock.now });
    for (let i = 0; i < 200; i++) {
      clock.advance(bucket.nextAvailableInMs());
      expect(bucket.take()).toBe(true);
    }
  });

  it('ignores a clock that goes back', () => {
    const clock = fakeClock(10_000);
    const bucket = createTokenBucket({ burst: 1, ratePerSec: 1, now: clock.now });
    bucket.take();
    clock.set(5_000);
    expect(bucket.take()).toBe(false);
    clock.set(10_500);
    expect(bucket.available()).toBeCloseTo(0.5);
    clock.set(11_000);
    expect(bucket.take()).toBe(true);
  });

  it.each([
    { burst: 5, ratePerSec: 0.5 },
    { burst: 4, ratePerSec: 1 },
    { burst: 1, ratePerSec: 3.3 },
    { burst: 10, ratePerSec: 0.1 },
  ])('never sends more than burst + rate * 10 in any 10 s window: %o', ({ burst, ratePerSec }) => {
    const clock = fakeClock(0);
    const bucket = createTokenBucket({ burst, ratePerSec, now: clock.now });
    const sent: number[] = [];
    // A greedy sender polling at irregular steps (deterministic pseudo-random) for 60 s.
    let seed = 42;
    const step = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return 1 + (seed % 97);
    };
    while (clock.now() < 60_000) {
      while (bucket.take()) sent.push(clock.now());
      clock.advance(step());
    }
    const window = 10_000;
    const bound = burst + ratePerSec * (window / 1000);
    let lo = 0;
    for (let hi = 0; hi < sent.length; hi++) {
      while (sent[hi]! - sent[lo]! > window) lo++;
      expect(hi - lo + 1).toBeLessThanOrEqual(bound);
    }
    // and the greedy sender gets close to the sustained rate (polling gaps cost a little with a small burst)
    expect(sent.length).toBeGreaterThanOrEqual(0.8 * (burst + ratePerSec * 60));
    expect(sent.length).toBeLessThanOrEqual(burst + ratePerSec * 60);
  });

  it('has safe defaults for public networks and uses the real clock without one', () => {
    expect(DEFAULT_BURST).toBe(5);
    expect(DEFAULT_RATE_PER_SEC).toBe(0.5);
    const bucket = createTokenBucket();
    let n = 0;
    while (bucket.take()) n++;
    expect(n).toBe(DEFAULT_BURST);
    const wait = bucket.nextAvailableInMs();
    expect(wait).toBeGreaterThan(1900);
    expect(wait).toBeLessThanOrEqual(2000);
  });

  it('is unlimited with ratePerSec Infinity', () => {
    const bucket = createTokenBucket({ ratePerSec: Infinity, now: () => 0 });
    let n = 0;
    for (let i = 0; i < 100_000; i++) if (bucket.take()) n++;
    expect(n).toBe(100_000);
    expect(bucket.nextAvailableInMs()).toBe(0);
    expect(bucket.available()).toBe(Infinity);
  });

  it('rejects nonsensical options', () => {
    expect(() => createTokenBucket({ burst: 0 })).toThrow(RangeError);
    expect(() => createTokenBucket({ burst: Infinity })).toThrow(RangeError);
    expect(() => createTokenBucket({ burst: NaN })).toThrow(/burst must be/);
    expect(() => createTokenBucket({ ratePerSec: 0 })).toThrow(/ratePerSec must be > 0/);
    expect(() => createTokenBucket({ ratePerSec: -1 })).toThrow(RangeError);
    expect(() => createTokenBucket({ ratePerSec: NaN })).toThrow(RangeError);
  });
});

describe('the announce endpoint\'s use: say how long to wait', () => {
  it('gives a burst, then one token per 1/rate seconds, and says how long to wait', () => {
    let t = 0;
    const b = createTokenBucket({ burst: 3, ratePerSec: 0.5, now: () => t });
    expect([b.take(), b.take(), b.take()]).toEqual([true, true, true]);
    expect(b.take()).toBe(false);
    expect(b.nextAvailableInMs()).toBe(2000);
    t = 1500;
    expect(b.nextAvailableInMs()).toBe(500);
    t = 2000;
    expect(b.take()).toBe(true);
    expect(b.nextAvailableInMs()).toBe(2000);
    // A long pause refills only up to the burst.
    t = 1_000_000;
    expect([b.take(), b.take(), b.take()]).toEqual([true, true, true]);
    expect(b.take()).toBe(false);
  });
});
