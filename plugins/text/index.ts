/**
 * text: small text transformations — reverse, rot13, upper. Each answers with exactly the
 * transformed text and nothing else, because an aggregator (compose) feeds one's answer into the
 * next. They work on the bytes the user sent: runs of valid UTF-8 are transformed as text, and a
 * byte that is not UTF-8 stays as it was (a Latin-1 é is not turned into U+FFFD).
 */
import { definePlugin, type CommandSpec } from '../../protocol/sdk/index.js';


// mIRC formatting: bold, colour (with its digits), hex colour, reset, monospace, reverse,
// italic, strike, underline. Reversed, a colour code would turn into stray digits.
const FORMATTING = /\x03(?:\d{1,2}(?:,\d{1,2})?)?|\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?|[\x02\x0f\x11\x16\x1d\x1e\x1f]/g;

const segmenter = typeof Intl.Segmenter === 'function' ? new Intl.Segmenter(undefined, { granularity: 'grapheme' }) : undefined;

/** Reverses by grapheme cluster (so "é" as e + accent, flags and ZWJ emoji stay whole); formatting codes are dropped. */
export function reverse(text: string): string {
  const plain = text.replace(FORMATTING, '');
  const parts = segmenter ? Array.from(segmenter.segment(plain), (s) => s.segment) : Array.from(plain);
  return parts.reverse().join('');
}

export function rot13(text: string): string {
  return text.replace(/[A-Za-z]/g, (c) => {
    const base = c <= 'Z' ? 65 : 97;
    return String.fromCharCode(((c.charCodeAt(0) - base + 13) % 26) + base);
  });
}

export function upper(text: string): string {
  return text.toUpperCase();
}

/** A piece of a byte string: a run of valid UTF-8 (as text), or one byte that is not UTF-8. */
type Piece = string | number;

/** Length of the valid UTF-8 sequence at `i`, or 0 if the byte there does not start one. */
function sequenceAt(b: Buffer, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  const n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
  if (n === 0 || i + n > b.length) return 0;
  for (let k = 1; k < n; k++) if ((b[i + k]! & 0xc0) !== 0x80) return 0;
  const c1 = b[i + 1]!;
  // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8.
  if ((c === 0xe0 && c1 < 0xa0) || (c === 0xed && c1 > 0x9f) || (c === 0xf0 && c1 < 0x90) || (c === 0xf4 && c1 > 0x8f)) return 0;
  return n;
}

export function pieces(b: Buffer): Piece[] {
  const out: Piece[] = [];
  let start = 0;
  for (let i = 0; i < b.length;) {
    const n = sequenceAt(b, i);
    if (n > 0) { i += n; continue; }
    if (i > start) out.push(b.toString('utf8', start, i));
    out.push(b[i]!);
    start = ++i;
  }
  if (start < b.length) out.push(b.toString('utf8', start));
  return out;
}

const toBytes = (ps: Piece[]): Buffer => Buffer.concat(ps.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.of(p))));

/** Reverses bytes as text: text runs by grapheme, a stray byte as one unit. */
export function reverseBytes(b: Buffer): Buffer {
  return toBytes(pieces(b).map((p): Piece => (typeof p === 'string' ? reverse(p) : p)).reverse());
}

/** Applies a per-character transformation to the text runs only. */
const mapText = (fn: (t: string) => string) => (b: Buffer): Buffer => toBytes(pieces(b).map((p) => (typeof p === 'string' ? fn(p) : p)));

const TRANSFORMS: Record<string, CommandSpec & { fn: (b: Buffer) => Buffer }> = {
  reverse: { fn: reverseBytes, help: 'reverse TEXT — TEXT backwards (by character: emoji and accents stay whole)', examples: [['!reverse hello', 'olleh']] },
  rot13: { fn: mapText(rot13), help: 'rot13 TEXT — TEXT with each Latin letter moved 13 places (again to decode)', examples: [['!rot13 Hello', 'Uryyb']] },
  upper: { fn: mapText(upper), help: 'upper TEXT — TEXT in capitals', examples: [['!upper hello', 'HELLO']] },
};

export default definePlugin({ name: 'text', kind: 'responder', description: 'Text helpers: reverse, rot13, upper.' }, (hive) => {
  for (const [name, { fn, ...spec }] of Object.entries(TRANSFORMS)) {
    hive.command(name, spec, (cmd) => {
      // An empty PRIVMSG cannot be sent, so no text gets the usage instead.
      if (!cmd.args) return cmd.reply(`usage: ${hive.commandPrefix}${name} TEXT`);
      const out = fn(cmd.argsBytes);
      return cmd.reply(out.toString('utf8').trim() ? out : `${name}: the result is empty`);
    });
  }
});
