import { describe, expect, test } from 'vitest';
import { DURATION_MESSAGE, durationSchema, formatDuration, parseDuration, tryParseDuration } from './duration.js';

describe('parseDuration', () => {
  test.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['1.5s', 1_500],
    ['1m30s', 90_000],
    ['1h 30m', 5_400_000],
    [' 2s ', 2_000],
    ['250', 250],
    [0, 0],
    [1234, 1234],
  ] as const)('%j is %d ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  test.each(['', 'soon', '5x', '-5s', 's', '1m30', '5 mins', 'Infinity'])('%j is not a duration', (input) => {
    expect(tryParseDuration(input)).toBeUndefined();
    expect(() => parseDuration(input)).toThrow(DURATION_MESSAGE);
  });

  test('negative, infinite and non-numeric values are refused', () => {
    expect(tryParseDuration(-1)).toBeUndefined();
    expect(tryParseDuration(Number.POSITIVE_INFINITY)).toBeUndefined();
    expect(tryParseDuration(Number.NaN)).toBeUndefined();
    expect(tryParseDuration(null)).toBeUndefined();
    expect(tryParseDuration({})).toBeUndefined();
  });

  test('fractions of a millisecond are rounded to whole ms', () => {
    expect(parseDuration(2.6)).toBe(3);
    expect(parseDuration('0.4ms')).toBe(0);
  });
});

describe('formatDuration', () => {
  test('spells ms in the largest whole units', () => {
    expect(formatDuration(0)).toBe('0ms');
    expect(formatDuration(500)).toBe('500ms');
    expect(formatDuration(90_000)).toBe('1m30s');
    expect(formatDuration(86_400_000 + 1)).toBe('1d1ms');
  });

  test('round-trips through parseDuration', () => {
    for (const ms of [1, 999, 1000, 61_001, 3_600_000, 123_456_789]) expect(parseDuration(formatDuration(ms))).toBe(ms);
  });
});

describe('durationSchema', () => {
  test('turns strings and numbers into ms', () => {
    expect(durationSchema.parse('5m')).toBe(300_000);
    expect(durationSchema.parse(42)).toBe(42);
  });

  test('a bad duration gives exactly one issue with the readable message', () => {
    for (const bad of ['soon', true, -3, null]) {
      const result = durationSchema.safeParse(bad);
      expect(result.success).toBe(false);
      expect(result.error?.issues).toHaveLength(1);
      expect(result.error?.issues[0]?.message).toBe('expected a duration like 30s, 5m or a number of ms');
    }
  });

  test('can carry a default in ms', () => {
    expect(durationSchema.default(5_000).parse(undefined)).toBe(5_000);
  });
});
