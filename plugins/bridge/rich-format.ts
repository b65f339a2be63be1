/**
 * How replies and corrections look where they cannot be native (on IRC), and what an IRC user's
 * `s/old/new/` means. Pure.
 *
 * - A reply: `↪ alice: "first words of her line…" — the reply text` (the quote one line, at most
 *   QUOTE_CHARS characters).
 * - A correction: `s/old/new/` when one word changed (readers know the idiom), else
 *   `* correction: the new text`.
 */
import { ZWSP } from './format.js';

/** Characters of the quoted message in a reply shown on IRC. */
export const QUOTE_CHARS = 60;
/** A word longer than this is never shown as s/old/new/: the full correction reads better. */
const MAX_SUB_WORD = 40;

export const REPLY_MARK = '↪';
export const CORRECTION_MARK = '* correction:';

/**
 * Whether a channel is an XMPP room: the mouth names the room `room@conference.example.org` as the
 * channel `#room@conference.example.org` (docs/protocol.md, "XMPP"); no IRC channel looks so.
 */
export function isRoom(channel: string): boolean {
  return /^#[^@\s]+@[^@\s]+$/.test(channel);
}

/** mIRC formatting codes (colour with its digits, hex colour, bold, italic, …). */
const FORMATTING = /\x03(?:\d{1,2}(?:,\d{1,2})?)?|\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?|[\x02\x0f\x11\x16\x1d\x1e\x1f]/g;

/** The text without mIRC formatting codes (for XMPP, where clients would show them raw). */
export function stripFormatting(text: string): string {
  return text.replace(FORMATTING, '');
}

/** A short one-line quote of `text`: whitespace runs made one space, cut at a word near QUOTE_CHARS with "…". */
export function quoteOf(text: string, max = QUOTE_CHARS): string {
  const flat = stripFormatting(text).replaceAll(ZWSP, '').replace(/\s+/g, ' ').trim();
  const chars = Array.from(flat);
  if (chars.length <= max) return flat;
  let cut = chars.slice(0, max).join('');
  const space = cut.lastIndexOf(' ');
  if (space >= max / 2) cut = cut.slice(0, space);
  return `${cut}…`;
}

/** What goes before a reply's text on a side without native replies. */
export function replyPrefix(shownNick: string, quotedText: string): string {
  return `${REPLY_MARK} ${shownNick}: "${quoteOf(quotedText)}" — `;
}

/**
 * The lines showing a correction of `before` (undefined when the corrected message is not known)
 * into `after` on a side without native corrections.
 */
export function correctionLines(before: { text: string; truncated: boolean } | undefined, after: string): string[] {
  const sub = before && !before.truncated ? oneWordChange(before.text, after) : undefined;
  if (sub) return [`s/${sub.from}/${sub.to}/`];
  const lines = after.split('\n');
  lines[0] = `${CORRECTION_MARK} ${lines[0]}`;
  return lines;
}

/**
 * The word changed between two one-line texts, when exactly one word changed, it occurs once in
 * the old text (so `s/old/new/` is not ambiguous) and neither holds a slash.
 */
export function oneWordChange(before: string, after: string): { from: string; to: string } | undefined {
  if (before.includes('\n') || after.includes('\n')) return undefined;
  const a = before.split(' ');
  const b = after.split(' ');
  if (a.length !== b.length) return undefined;
  let diff = -1;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue;
    if (diff !== -1) return undefined;
    diff = i;
  }
  if (diff === -1) return undefined;
  const from = a[diff]!;
  const to = b[diff]!;
  if (!from || !to || from.length > MAX_SUB_WORD || to.length > MAX_SUB_WORD || from.includes('/') || to.includes('/')) return undefined;
  if (before.indexOf(from) !== before.lastIndexOf(from)) return undefined;
  return { from, to };
}

/** An IRC user's `s/old/new/` (or `s/old/new`): literal text, not a regular expression. */
export function parseSubstitution(text: string): { from: string; to: string } | undefined {
  const m = /^s\/([^/]+)\/([^/]*)\/?$/.exec(text);
  return m ? { from: m[1]!, to: m[2]! } : undefined;
}

/** `text` with the first `from` replaced, or undefined when `from` is not in it. */
export function applySubstitution(text: string, sub: { from: string; to: string }): string | undefined {
  const i = text.indexOf(sub.from);
  if (i === -1) return undefined;
  return text.slice(0, i) + sub.to + text.slice(i + sub.from.length);
}
