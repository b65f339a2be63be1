/**
 * What a relayed line looks like: `<nick> text`, `* nick text` for an action, `-nick- text` for a
 * notice, and `* nick has joined` and the like for channel events. The nick keeps one mIRC colour
 * (picked by a hash of the nick) and gets a zero-width space after its first character, so that
 * relaying someone's line does not highlight them (or their namesake) on the other side. Pure.
 */
import { ircLower } from '../../protocol/sdk/index.js';

/**
 * mIRC colours that read well on both light and dark backgrounds: 0 white, 1 black, 8 yellow,
 * 11 light cyan, 14 grey and 15 light grey are each unreadable on one of them.
 */
export const NICK_COLOURS: readonly number[] = Object.freeze([2, 3, 4, 5, 6, 7, 9, 10, 12, 13]);

export const ZWSP = '\u200b';

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;


/** The mIRC colour number of a nick: the same for every spelling the server treats as the same nick. */
export function colourOf(nick: string): number {
  let h = FNV_OFFSET;
  for (const b of Buffer.from(ircLower(nick), 'utf8')) {
    h ^= b;
    h = Math.imul(h, FNV_PRIME) >>> 0;
  }
  return NICK_COLOURS[h % NICK_COLOURS.length]!;
}

export interface NickStyle {
  /** Wrap the nick in its mIRC colour. */
  colour: boolean;
  /** Put a zero-width space after the first character of the nick. */
  noHighlight: boolean;
}

/** The nick as shown on the other side: `\x03NN` + nick + `\x03` (always two digits, so a digit after cannot join the code). */
export function showNick(nick: string, style: NickStyle): string {
  let shown = nick;
  if (style.noHighlight) {
    const chars = Array.from(nick);
    if (chars.length > 1) shown = chars[0] + ZWSP + chars.slice(1).join('');
  }
  if (!style.colour) return shown;
  return `\x03${String(colourOf(nick)).padStart(2, '0')}${shown}\x03`;
}

/** mIRC formatting codes (colour with its digits, hex colour, bold, italic, …). */
const FORMATTING = /\x03(?:\d{1,2}(?:,\d{1,2})?)?|\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?|[\x02\x0f\x11\x16\x1d\x1e\x1f]/g;

/** The text without mIRC formatting codes and zero-width spaces: what a reader sees. */
export function plainText(text: string): string {
  return text.replace(FORMATTING, '').replaceAll(ZWSP, '');
}

export type RelayEvent =
  | { type: 'join'; nick: string }
  | { type: 'part'; nick: string; reason?: string }
  | { type: 'kick'; nick: string; by: string; reason?: string }
  | { type: 'quit'; nick: string; reason?: string }
  | { type: 'nick'; nick: string; newNick: string };

const because = (reason: string | undefined) => (reason ? ` (${reason})` : '');

/** The text of a relayed channel event. */
export function eventText(e: RelayEvent, style: NickStyle): string {
  const n = showNick(e.nick, style);
  switch (e.type) {
    case 'join': return `* ${n} has joined`;
    case 'part': return `* ${n} has left${because(e.reason)}`;
    case 'kick': return `* ${n} was kicked by ${showNick(e.by, style)}${because(e.reason)}`;
    case 'quit': return `* ${n} has quit${because(e.reason)}`;
    case 'nick': return `* ${n} is now known as ${showNick(e.newNick, style)}`;
  }
}

export type SpeechKind = 'message' | 'action' | 'notice';

/** The head put before the speaker's own bytes: `<nick> `, `* nick ` or `-nick- `. */
export function speechHead(kind: SpeechKind, nick: string, style: NickStyle): string {
  const n = showNick(nick, style);
  if (kind === 'action') return `* ${n} `;
  if (kind === 'notice') return `-${n}- `;
  return `<${n}> `;
}

const SPACE = 0x20;
const AT = 0x40;
const COLON = 0x3a;
const CTCP = 0x01;
const ACTION = Buffer.from('\x01ACTION ', 'latin1');
const ACTION_BARE = Buffer.from('\x01ACTION\x01', 'latin1');

/**
 * The last parameter of a raw IRC line, as bytes: the text of a PRIVMSG, untouched (a line that is
 * not valid UTF-8 is relayed byte for byte). Undefined when the line has no parameter.
 */
export function trailingBytes(line: Buffer): Buffer | undefined {
  let i = 0;
  const skipWord = () => {
    const sp = line.indexOf(SPACE, i);
    i = sp === -1 ? line.length : sp;
    while (line[i] === SPACE) i++;
  };
  if (line[i] === AT) skipWord();
  if (line[i] === COLON) skipWord();
  skipWord(); // the command
  if (i >= line.length) return undefined;
  // Middle parameters never start with ':', so the first " :" starts the trailing one.
  const colon = line.indexOf(' :', i - 1, 'latin1');
  if (colon !== -1) return line.subarray(colon + 2);
  let end = line.length;
  while (end > i && line[end - 1] === SPACE) end--;
  const last = line.lastIndexOf(SPACE, end - 1);
  return line.subarray(Math.max(last + 1, i), end);
}

/**
 * What a PRIVMSG/NOTICE text is for the bridge: plain speech, an action (its text without the
 * CTCP wrapping), or another CTCP (VERSION, PING, …) which is not relayed.
 */
export function classifyText(text: Buffer): { kind: 'plain' | 'action'; body: Buffer } | { kind: 'ctcp' } {
  if (text[0] !== CTCP) return { kind: 'plain', body: text };
  if (text.subarray(0, ACTION.length).equals(ACTION)) {
    const end = text[text.length - 1] === CTCP ? text.length - 1 : text.length;
    return { kind: 'action', body: text.subarray(ACTION.length, end) };
  }
  if (text.equals(ACTION_BARE)) return { kind: 'action', body: Buffer.alloc(0) };
  return { kind: 'ctcp' };
}
