import { describe, expect, test } from 'vitest';
import { backoffDelay } from './backoff.js';

const middle = () => 0.5; // jitter factor 1 + 0.2 * (2 * 0.5 - 1) = 1: no jitter

describe('backoffDelay', () => {
  test('grows by the factor from the base delay', () => {
    expect([0, 1, 2, 3, 4].map((a) => backoffDelay(a, { random: middle }))).toEqual([100, 200, 400, 800, 1600]);
  });

  test('is capped at maxMs however many attempts', () => {
    expect(backoffDelay(20, { random: middle })).toBe(30_000);
    expect(backoffDelay(10_000, { random: middle })).toBe(30_000);
    expect(backoffDelay(Infinity, { random: middle })).toBe(30_000);
  });

  test('jitter spreads the delay by at most the given fraction', () => {
    expect(backoffDelay(3, { random: () => 0 })).toBe(640); // 800 - 20%
    expect(backoffDelay(3, { random: () => 0.999999 })).toBe(960); // 800 + ~20%
  });

  test('jitter never pushes a delay above maxMs', () => {
    expect(backoffDelay(50, { random: () => 0.999999 })).toBe(30_000);
    expect(backoffDelay(50, { random: () => 0 })).toBe(24_000);
  });

  test('no jitter gives exact delays whatever the random source says', () => {
    expect(backoffDelay(2, { jitter: 0, random: () => 0 })).toBe(400);
  });

  test('honours custom base, factor and max', () => {
    expect(backoffDelay(2, { baseMs: 1000, factor: 3, maxMs: 60_000, random: middle })).toBe(9000);
    expect(backoffDelay(5, { baseMs: 1000, factor: 1, random: middle })).toBe(1000);
  });

  test('negative or NaN attempts count as the first attempt', () => {
    expect(backoffDelay(-3, { random: middle })).toBe(100);
    expect(backoffDelay(Number.NaN, { random: middle })).toBe(100);
  });

  test('always returns whole, non-negative milliseconds with the real random source', () => {
    for (let a = 0; a < 30; a++) {
      const d = backoffDelay(a);
      expect(Number.isInteger(d)).toBe(true);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(30_000);
    }
  });
});
