/**
 * Time expressions of `remind`: a delay in Hive's one duration grammar (`30s`, `10m`, `2h`, `1w`,
 * compounds like `1h30m`; docs/config.md#durations),
 * a clock time (`14:30`, `14:30:15`: the next such time, today or tomorrow) or an ISO date-time
 * (`2026-12-01T09:00`, `2026-12-01 09:00`, with an optional `Z` or `±HH:MM`). Clock times and
 * ISO times without an offset are UTC: the bot serves people in many zones, and UTC reads the same
 * for everyone and does not depend on the server's TZ setting. Pure, no I/O.
 */
import { formatDuration as format, parseDurationText } from '../../protocol/sdk/index.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const CLOCK = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/;
const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{1,2}):(\d{2})(?::(\d{2}))?(Z|[+-]\d{2}:?\d{2})?$/i;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

export type WhenResult =
  | { ok: true; due: number; text: string }
  | { ok: false; error: string };

function clockTime(h: number, mi: number, s: number): boolean {
  return h <= 23 && mi <= 59 && s <= 59;
}

/**
 * Splits `remind` arguments into the due time and the text. `now` is the time the request was
 * made (ms since the epoch); a clock time that has passed today means tomorrow.
 */
export function parseWhen(args: string, now: number): WhenResult {
  let words = args.trim().split(/\s+/).filter(Boolean);
  // `remind in 10m …` and `remind at 14:30 …` read naturally; the word adds nothing.
  if (words.length > 1 && /^(in|at)$/i.test(words[0]!)) words = words.slice(1);
  const first = words[0];
  if (!first) return { ok: false, error: 'when? e.g. 10m, 1h30m, 14:30 (UTC) or 2026-12-01T09:00' };
  let consumed = 1;
  let due: number;

  let delay = parseDurationText(first);
  // A delay written in parts (`1h 30m`) is one duration: take as many words as still read as one.
  for (let k = 2; delay !== undefined && k <= Math.min(words.length, 6); k++) {
    const longer = parseDurationText(words.slice(0, k).join(' '));
    if (longer === undefined) break;
    delay = longer;
    consumed = k;
  }
  if (delay !== undefined) {
    if (delay < SECOND) return { ok: false, error: 'the delay must be at least 1s' };
    due = now + delay;
  } else if (CLOCK.test(first)) {
    const [, hh, mm, ss] = CLOCK.exec(first)!;
    const h = Number(hh), mi = Number(mm), s = Number(ss ?? 0);
    if (!clockTime(h, mi, s)) return { ok: false, error: `${first} is not a time of day (00:00 to 23:59)` };
    const d = new Date(now);
    due = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), h, mi, s);
    if (due <= now) due += DAY;
  } else {
    let iso = first;
    // `2026-12-01 09:00` arrives as two words.
    if (DATE_ONLY.test(first) && words[1] && CLOCK.test(words[1])) { iso = `${first} ${words[1]}`; consumed = 2; }
    const m = ISO.exec(iso);
    if (!m) {
      if (DATE_ONLY.test(first)) return { ok: false, error: `give a time of day too, e.g. ${first}T09:00 (UTC)` };
      if (/^\d+$/.test(first)) return { ok: false, error: `${first} what? say ${first}s, ${first}m, ${first}h or ${first}d` };
      return { ok: false, error: `'${first.slice(0, 40)}' is not a time: say e.g. 10m, 1h30m, 14:30 (UTC) or 2026-12-01T09:00` };
    }
    const [, y, mo, d, hh, mi, ss, zone] = m;
    const h = Number(hh), min = Number(mi), s = Number(ss ?? 0);
    if (!clockTime(h, min, s)) return { ok: false, error: `${iso} has no such time of day` };
    const local = Date.UTC(Number(y), Number(mo) - 1, Number(d), h, min, s);
    // Date.UTC rolls 2026-02-30 over into March; a date that does not round-trip does not exist.
    const check = new Date(local);
    if (check.getUTCFullYear() !== Number(y) || check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(d)) {
      return { ok: false, error: `${y}-${mo}-${d} is not a date` };
    }
    let offset = 0;
    if (zone && zone.toUpperCase() !== 'Z') {
      const z = /^([+-])(\d{2}):?(\d{2})$/.exec(zone)!;
      offset = (z[1] === '-' ? -1 : 1) * (Number(z[2]) * HOUR + Number(z[3]) * MINUTE);
      if (Number(z[2]) > 14 || Number(z[3]) > 59) return { ok: false, error: `${zone} is not a UTC offset` };
    }
    due = local - offset;
    if (due <= now) return { ok: false, error: `${iso} has already passed (it is now ${formatClock(now, now, true)})` };
  }
  const text = words.slice(consumed).join(' ');
  return { ok: true, due, text };
}

/** A delay for people: every non-zero unit, to the second (`1d2h`, `1h30m`, `2s`). */
export function formatDuration(ms: number): string {
  return format(ms, { smallest: 's' });
}

const pad = (n: number) => String(n).padStart(2, '0');

/**
 * `14:30 UTC`, with seconds when they matter (`14:30:07 UTC`: less than 10 minutes away, or
 * `seconds`), and with the date when it is not today (`2026-12-01 09:00 UTC`).
 */
export function formatClock(t: number, now: number, seconds = false): string {
  const d = new Date(t);
  const n = new Date(now);
  let clock = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
  if (seconds || Math.abs(t - now) < 10 * MINUTE) clock += `:${pad(d.getUTCSeconds())}`;
  const sameDay = d.getUTCFullYear() === n.getUTCFullYear() && d.getUTCMonth() === n.getUTCMonth() && d.getUTCDate() === n.getUTCDate();
  const date = sameDay ? '' : `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} `;
  return `${date}${clock} UTC`;
}
