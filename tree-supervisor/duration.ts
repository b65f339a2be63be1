/**
 * Durations in the config: "500ms", "30s", "5m", "1h", "1d", compounds like "1m30s",
 * or a plain number of milliseconds. Everything inside Hive works in milliseconds.
 */
import { z } from 'zod';

export const DURATION_MESSAGE = 'expected a duration like 30s, 5m or a number of ms';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Whole string: one or more <number><unit> parts, or a bare number (ms, e.g. from an env var). */
const WHOLE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$|^\d+(?:\.\d+)?$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)?/g;

/** The duration in ms, or undefined when the value is not a duration. Never throws. */
export function tryParseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') {
    return Number.isFinite(value) && value >= 0 ? Math.round(value) : undefined;
  }
  if (typeof value !== 'string') return undefined;
  const text = value.trim().replace(/\s+/g, '');
  if (text === '' || !WHOLE.test(text)) return undefined;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(PART)) {
    total += Number(amount) * UNIT_MS[(unit ?? 'ms') as keyof typeof UNIT_MS];
  }
  return Number.isFinite(total) ? Math.round(total) : undefined;
}

/** The duration in ms; throws a RangeError with the config wording when it is not one. */
export function parseDuration(value: string | number): number {
  const ms = tryParseDuration(value);
  if (ms === undefined) throw new RangeError(`${DURATION_MESSAGE}, got ${JSON.stringify(value)}`);
  return ms;
}

/** The shortest exact spelling of ms in the largest whole units ("90s" → "1m30s"), for logs. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return String(ms);
  if (ms === 0) return '0ms';
  let rest = Math.round(ms);
  let out = '';
  for (const unit of ['d', 'h', 'm', 's', 'ms'] as const) {
    const n = Math.floor(rest / UNIT_MS[unit]);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * UNIT_MS[unit];
    }
  }
  return out;
}

/**
 * Accepts a duration string or a number of ms and yields ms. One custom issue for every bad
 * input (instead of a union's two) so that the config error reads as a single sentence.
 */
export const durationSchema = z
  .custom<string | number>((value) => tryParseDuration(value) !== undefined, { error: DURATION_MESSAGE })
  .transform((value) => tryParseDuration(value) as number);
