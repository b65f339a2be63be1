import { describe, expect, test } from 'vitest';
import { DURATION_MESSAGE, formatDuration, parseDuration, parseDurationText, tryParseDuration } from './duration.js';
import { durationSchema } from './duration-schema.js';

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

describe('one grammar for the config and for what users type', () => {
  const S = 1000, M = 60 * S, H = 60 * M, D = 24 * H;
  test('units with long names, weeks, any case, and compounds', () => {
    expect(parseDurationText('30s')).toBe(30 * S);
    expect(parseDurationText('1w')).toBe(7 * D);
    expect(parseDurationText('1d2h3m4s')).toBe(D + 2 * H + 3 * M + 4 * S);
    expect(parseDurationText('10min')).toBe(10 * M);
    expect(parseDurationText('2hours')).toBe(2 * H);
    expect(parseDurationText('1H30M')).toBe(90 * M);
    expect(parseDurationText('10ms')).toBe(10);
    expect(parseDurationText('1.5h')).toBe(90 * M);
    expect(parseDuration('1w')).toBe(7 * D);
    expect(parseDuration('10min')).toBe(10 * M);
  });
  test('user text needs units; the config also takes a bare number of ms', () => {
    for (const t of ['', '10', 'm', '10x', '1h30', 'h1', '-5m', '10 m', '5 mins']) expect(parseDurationText(t), t).toBeUndefined();
    expect(parseDuration('10')).toBe(10);
  });
  test('a duration too large to count exactly is Infinity in text and refused in the config', () => {
    expect(parseDurationText('99999999999999999999d')).toBe(Infinity);
    expect(tryParseDuration('99999999999999999999d')).toBeUndefined();
  });
  test('text longer than any duration is refused before the regex runs', () => {
    expect(parseDurationText('1s'.repeat(40))).toBeUndefined();
  });
  test('formats for people to the second', () => {
    expect(formatDuration(0, { smallest: 's' })).toBe('0s');
    expect(formatDuration(90 * M - 2, { smallest: 's' })).toBe('1h30m');
    expect(formatDuration(D + 2 * H + 4 * S, { smallest: 's' })).toBe('1d2h4s');
  });
});
