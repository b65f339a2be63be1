import { describe, expect, it } from 'vitest';
import { formatClock, formatDuration, parseWhen } from './when.js';

const S = 1000, M = 60 * S, H = 60 * M, D = 24 * H;
// 2026-03-10 12:00:00 UTC
const NOW = Date.UTC(2026, 2, 10, 12, 0, 0);

function due(args: string, now = NOW): number {
  const r = parseWhen(args, now);
  if (!r.ok) throw new Error(`expected a time for '${args}', got: ${r.error}`);
  return r.due;
}
function error(args: string, now = NOW): string {
  const r = parseWhen(args, now);
  if (r.ok) throw new Error(`expected an error for '${args}', got ${new Date(r.due).toISOString()}`);
  return r.error;
}

// The delay grammar itself is Hive's one duration grammar, tested in protocol/duration.test.ts.

describe('parseWhen', () => {
  it('splits a delay from the text', () => {
    expect(parseWhen('10m stretch your legs', NOW)).toEqual({ ok: true, due: NOW + 10 * M, text: 'stretch your legs' });
    expect(parseWhen('in 1h30m  tea   time', NOW)).toEqual({ ok: true, due: NOW + 90 * M, text: 'tea time' });
    expect(parseWhen('2s', NOW)).toEqual({ ok: true, due: NOW + 2 * S, text: '' });
  });
  it('reads a clock time as UTC, today if still ahead, else tomorrow', () => {
    expect(due('14:30 x')).toBe(Date.UTC(2026, 2, 10, 14, 30));
    expect(due('at 9:05 x')).toBe(Date.UTC(2026, 2, 11, 9, 5));
    expect(due('12:00 x')).toBe(Date.UTC(2026, 2, 11, 12, 0)); // exactly now: tomorrow
    expect(due('12:00:01 x')).toBe(Date.UTC(2026, 2, 10, 12, 0, 1));
    expect(due('23:59 x', Date.UTC(2026, 11, 31, 23, 59, 30))).toBe(Date.UTC(2027, 0, 1, 23, 59));
  });
  it('reads ISO date-times, UTC unless an offset is given', () => {
    expect(due('2026-12-01T09:00 x')).toBe(Date.UTC(2026, 11, 1, 9, 0));
    expect(due('2026-12-01T09:00Z x')).toBe(Date.UTC(2026, 11, 1, 9, 0));
    expect(due('2026-12-01T09:00:30z x')).toBe(Date.UTC(2026, 11, 1, 9, 0, 30));
    expect(due('2026-12-01T09:00+02:00 x')).toBe(Date.UTC(2026, 11, 1, 7, 0));
    expect(due('2026-12-01T09:00-0530 x')).toBe(Date.UTC(2026, 11, 1, 14, 30));
    const r = parseWhen('2026-12-01 09:00 the text', NOW);
    expect(r).toEqual({ ok: true, due: Date.UTC(2026, 11, 1, 9, 0), text: 'the text' });
  });
  it('explains what is wrong', () => {
    expect(error('')).toMatch(/^when\?/);
    expect(error('10 minutes')).toMatch(/10 what\? say 10s, 10m/);
    expect(error('soon x')).toMatch(/'soon' is not a time/);
    expect(error('0s x')).toMatch(/at least 1s/);
    expect(error('25:00 x')).toMatch(/not a time of day/);
    expect(error('12:60 x')).toMatch(/not a time of day/);
    expect(error('2026-02-30T09:00 x')).toMatch(/not a date/);
    expect(error('2026-12-01 x')).toMatch(/give a time of day too/);
    expect(error('2020-01-01T00:00 x')).toMatch(/has already passed \(it is now 12:00:00 UTC\)/);
    expect(error('2026-12-01T09:00+15:00 x')).toMatch(/not a UTC offset/);
  });
});

describe('formatting', () => {
  it('formats delays with every non-zero unit', () => {
    expect(formatDuration(10 * M)).toBe('10m');
    expect(formatDuration(90 * M)).toBe('1h30m');
    expect(formatDuration(D + 2 * H + 3 * M + 4 * S)).toBe('1d2h3m4s');
    expect(formatDuration(1499)).toBe('1s');
    expect(formatDuration(0)).toBe('0s');
  });
  it('formats clock times in UTC, with seconds for short delays and the date when not today', () => {
    expect(formatClock(NOW + 10 * M, NOW)).toBe('12:10 UTC');
    expect(formatClock(NOW + 2 * S, NOW)).toBe('12:00:02 UTC');
    expect(formatClock(NOW + 2 * H + 5 * S, NOW)).toBe('14:00 UTC');
    expect(formatClock(NOW + 5 * M, NOW)).toBe('12:05:00 UTC');
    expect(formatClock(NOW + 2 * H + 5 * S, NOW, true)).toBe('14:00:05 UTC');
    expect(formatClock(Date.UTC(2026, 11, 1, 9, 0), NOW)).toBe('2026-12-01 09:00 UTC');
  });
});

describe('delays in the one duration grammar', () => {
  it('takes fractions and long unit names, and refuses a delay under a second by name', () => {
    expect(parseWhen('1.5h tea', NOW)).toEqual({ ok: true, due: NOW + 90 * M, text: 'tea' });
    expect(parseWhen('10minutes tea', NOW)).toEqual({ ok: true, due: NOW + 10 * M, text: 'tea' });
    expect(parseWhen('10ms tea', NOW)).toEqual({ ok: false, error: 'the delay must be at least 1s' });
  });
});

describe('a delay written in parts', () => {
  it('reads `1h 30m` as one delay, and stops at the first word that is not part of it', () => {
    expect(parseWhen('1h 30m tea', NOW)).toEqual({ ok: true, due: NOW + 90 * M, text: 'tea' });
    expect(parseWhen('in 1d 2h 3m 4s x', NOW)).toEqual({ ok: true, due: NOW + D + 2 * H + 3 * M + 4 * S, text: 'x' });
    expect(parseWhen('10m 5 apples', NOW)).toEqual({ ok: true, due: NOW + 10 * M, text: '5 apples' });
  });
});
