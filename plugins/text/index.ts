/**
 * text: small text transformations — reverse, rot13, upper. Each answers with exactly the
 * transformed text and nothing else, because an aggregator (compose) feeds one's answer into the
 * next.
 */
import type { Manifest, PluginContext } from '../../protocol/sdk/index.js';

export const manifest: Manifest = {
  name: 'text',
  kind: 'responder',
  description: 'Text helpers: reverse, rot13, upper.',
  commands: {
    reverse: { help: 'reverse TEXT — TEXT backwards (by character: emoji and accents stay whole)', examples: [['!reverse hello', 'olleh']] },
    rot13: { help: 'rot13 TEXT — TEXT with each Latin letter moved 13 places (again to decode)', examples: [['!rot13 Hello', 'Uryyb']] },
    upper: { help: 'upper TEXT — TEXT in capitals', examples: [['!upper hello', 'HELLO']] },
  },
};

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

const TRANSFORMS: Record<string, (t: string) => string> = { reverse, rot13, upper };

export default function text(hive: PluginContext): void {
  for (const [name, fn] of Object.entries(TRANSFORMS)) {
    hive.command(name, (cmd) => {
      // An empty PRIVMSG cannot be sent, so no text gets the usage instead.
      if (!cmd.args) return cmd.reply(`usage: ${hive.commandPrefix}${name} TEXT`);
      const out = fn(cmd.args);
      return cmd.reply(out.trim() ? out : `${name}: the result is empty`);
    });
  }
}
