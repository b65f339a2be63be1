/**
 * The one duration grammar of Hive, for the config (every key that takes a time) and for what users
 * type (`!remind 1h30m …`): one or more `<number><unit>` parts, optionally separated by spaces, with
 * no space between a number and its unit. Units, case-insensitive: ms; s, sec(s), second(s);
 * m, min(s), minute(s); h, hr(s), hour(s); d, day(s); w, week(s). Numbers may have a fraction
 * (`1.5h`). The config also takes a bare number of milliseconds (`500`, or `"500"` from an env var);
 * user text does not, since `remind 10 …` is more likely a slip than ten milliseconds.
 * Everything inside Hive works in milliseconds. Pure, no I/O.
 */
export const DURATION_MESSAGE = 'expected a duration like 30s, 5m or a number of ms';

const SECOND = 1_000, MINUTE = 60 * SECOND, HOUR = 60 * MINUTE, DAY = 24 * HOUR, WEEK = 7 * DAY;

const UNITS: Record<string, number> = {
  ms: 1,
  s: SECOND, sec: SECOND, secs: SECOND, second: SECOND, seconds: SECOND,
  m: MINUTE, min: MINUTE, mins: MINUTE, minute: MINUTE, minutes: MINUTE,
  h: HOUR, hr: HOUR, hrs: HOUR, hour: HOUR, hours: HOUR,
  d: DAY, day: DAY, days: DAY,
  w: WEEK, week: WEEK, weeks: WEEK,
};

// Longest unit names first, so that `10min` is not read as `10m` followed by garbage, nor `10ms` as `10m`.
const UNIT_ALT = Object.keys(UNITS).sort((a, b) => b.length - a.length).join('|');
const NUMBER = '\\d+(?:\\.\\d+)?';
const WHOLE = new RegExp(`^(?:${NUMBER}(?:${UNIT_ALT}))(?:\\s*${NUMBER}(?:${UNIT_ALT}))*$`, 'i');
const PART = new RegExp(`(${NUMBER})(${UNIT_ALT})`, 'gi');
const BARE = /^\d+(?:\.\d+)?$/;

/** Longest text worth parsing: nobody writes a duration of 64 characters, and the regex stays cheap. */
const MAX_TEXT = 64;

/**
 * Milliseconds of a duration written with units (`1h30m`, `500ms`), or undefined when the text is
 * not one. A duration too large to count exactly is Infinity, for the caller to refuse by name.
 */
export function parseDurationText(text: string): number | undefined {
  const t = text.trim();
  if (t.length === 0 || t.length > MAX_TEXT || !WHOLE.test(t)) return undefined;
  let ms = 0;
  for (const [, amount, unit] of t.matchAll(PART)) ms += Number(amount) * UNITS[unit!.toLowerCase()]!;
  const whole = Math.round(ms);
  return Number.isSafeInteger(whole) ? whole : Infinity;
}

/** The config form: a duration text, a bare number of ms, or a number. Undefined when not one. Never throws. */
export function tryParseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.round(value) : undefined;
  if (typeof value !== 'string') return undefined;
  const t = value.trim();
  if (BARE.test(t)) return Math.round(Number(t));
  const ms = parseDurationText(t);
  return ms !== undefined && Number.isFinite(ms) ? ms : undefined;
}

/** The duration in ms (config form); throws a RangeError with the config wording when it is not one. */
export function parseDuration(value: string | number): number {
  const ms = tryParseDuration(value);
  if (ms === undefined) throw new RangeError(`${DURATION_MESSAGE}, got ${JSON.stringify(value)}`);
  return ms;
}

const FORMAT_UNITS = [['d', DAY], ['h', HOUR], ['m', MINUTE], ['s', SECOND], ['ms', 1]] as const;

/**
 * The shortest exact spelling of ms in the largest whole units ("90s" → "1m30s"). With
 * `{ smallest: 's' }` it is rounded to whole seconds first, for people ("in 1h30m", not "in 1h29m59s998ms").
 */
export function formatDuration(ms: number, { smallest = 'ms' }: { smallest?: 'ms' | 's' } = {}): string {
  if (!Number.isFinite(ms) || ms < 0) return String(ms);
  const step = smallest === 's' ? SECOND : 1;
  let rest = Math.round(ms / step) * step;
  if (rest === 0) return `0${smallest}`;
  let out = '';
  for (const [unit, size] of FORMAT_UNITS) {
    if (size < step) break;
    const n = Math.floor(rest / size);
    if (n > 0) { out += `${n}${unit}`; rest -= n * size; }
  }
  return out;
}
