import { describe, expect, test } from 'vitest';
import { createRestartIntensity } from './restart-intensity.js';

describe('createRestartIntensity', () => {
  test('up to max restarts within the period are allowed', () => {
    const r = createRestartIntensity({ max: 3, withinMs: 10_000 });
    expect([0, 1000, 2000].map((t) => r.record(t))).toEqual(['restart', 'restart', 'restart']);
  });

  test('intensity exceeded stops restarting', () => {
    const r = createRestartIntensity({ max: 3, withinMs: 10_000 });
    for (const t of [0, 1000, 2000]) r.record(t);
    expect(r.record(3000)).toBe('give-up');
  });

  test('once given up it stays given up until reset', () => {
    const r = createRestartIntensity({ max: 1, withinMs: 1000 });
    r.record(0);
    expect(r.record(1)).toBe('give-up');
    expect(r.record(1_000_000)).toBe('give-up');
    r.reset();
    expect(r.record(1_000_001)).toBe('restart');
  });

  test('restarts older than the period no longer count (sliding window)', () => {
    const r = createRestartIntensity({ max: 2, withinMs: 10_000 });
    expect(r.record(0)).toBe('restart');
    expect(r.record(5_000)).toBe('restart');
    // The one at 0 has left the window at 10 000.
    expect(r.record(10_000)).toBe('restart');
    expect(r.record(14_999)).toBe('give-up'); // 5 000, 10 000 and 14 999 are within 10 s
  });

  test('steady restarts slower than the intensity go on forever', () => {
    const r = createRestartIntensity({ max: 5, withinMs: 60_000 });
    for (let i = 0; i < 1000; i++) expect(r.record(i * 12_001)).toBe('restart');
  });

  test('max 0 gives up on the first death', () => {
    expect(createRestartIntensity({ max: 0, withinMs: 60_000 }).record(0)).toBe('give-up');
  });

  test('recent counts the restarts inside the window', () => {
    const r = createRestartIntensity({ max: 10, withinMs: 1000 });
    r.record(0);
    r.record(500);
    expect(r.recent(600)).toBe(2);
    expect(r.recent(1200)).toBe(1);
    expect(r.recent(5000)).toBe(0);
  });

  test('reset forgets history', () => {
    const r = createRestartIntensity({ max: 1, withinMs: 1000 });
    r.record(0);
    r.reset();
    expect(r.recent(1)).toBe(0);
    expect(r.record(2)).toBe('restart');
  });

  test('nonsensical limits are refused', () => {
    expect(() => createRestartIntensity({ max: -1, withinMs: 1000 })).toThrow(RangeError);
    expect(() => createRestartIntensity({ max: 1.5, withinMs: 1000 })).toThrow(RangeError);
    expect(() => createRestartIntensity({ max: 1, withinMs: Number.NaN })).toThrow(RangeError);
  });
});
