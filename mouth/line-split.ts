/**
 * The 512-byte budget of an IRC line. When the server relays our line to others it prepends
 * `:nick!user@host `, and the result with CRLF must fit in 512 bytes or it is cut, so the budget
 * of what we send is 512 - 2 - prefix. IRCv3 tags do not count toward it; client tags have their
 * own limit of 4094 bytes. Long PRIVMSG/NOTICE are split into several lines; anything else too
 * long is refused, because cutting a MODE or a KICK in two changes what it does.
 */
import { OutboundRefused, showBytes } from './outbound-error.js';
import { layoutOf, parseOutbound } from './line-safety.js';

/** Bytes of one IRC line on the wire, CRLF included, tags excluded. */
export const IRC_LINE_MAX = 512;
/** Bytes of tag data a client may send, without the leading `@` and trailing space (IRCv3 message-tags). */
export const CLIENT_TAGS_MAX = 4094;
/** Assumed user part when unknown: `~` (no ident) plus a USERLEN of 10. */
export const DEFAULT_USER_LENGTH = 11;
/** Assumed host part when unknown: HOSTLEN of common servers; cloaks and rDNS names fit in it. */
export const DEFAULT_HOST_LENGTH = 63;

const SPLITTABLE = new Set(['PRIVMSG', 'NOTICE']);
const CTCP = 0x01;
const SPACE = 0x20;
const ACTION_OPEN = Buffer.from('\x01ACTION ', 'latin1');
const ACTION_CLOSE = Buffer.from('\x01', 'latin1');
/** Text bytes a split line must have room for: one whole UTF-8 character, so every part makes progress. */
const MIN_TEXT_ROOM = 4;

/**
 * Byte length of `:nick!user@host ` as the server prepends it when relaying our lines.
 * Unknown user/host get conservative lengths so that lines never end up too long.
 */
export function relayPrefixLength(nick: string, user?: string, host?: string): number {
  const userLen = user === undefined ? DEFAULT_USER_LENGTH : Buffer.byteLength(user, 'utf8');
  const hostLen = host === undefined ? DEFAULT_HOST_LENGTH : Buffer.byteLength(host, 'utf8');
  return 1 + Buffer.byteLength(nick, 'utf8') + 1 + userLen + 1 + hostLen + 1;
}

/**
 * Returns the line unchanged (as the only element) if it fits, else PRIVMSG/NOTICE split into
 * lines that each fit, with the same tags, command and target. Throws OutboundRefused
 * (LineTooLong) for tags over 4094 bytes or another command too long; the line is checked as
 * by checkLine first.
 */
export function fitLine(line: Buffer, prefixLen: number): Buffer[] {
  if (!Number.isInteger(prefixLen) || prefixLen < 0) {
    throw new RangeError(`prefixLen must be a non-negative integer, got ${prefixLen}`);
  }
  const { tagsSectionLength } = layoutOf(line);
  const tagBytes = tagsSectionLength === 0 ? 0 : tagsSectionLength - 2;
  if (tagBytes > CLIENT_TAGS_MAX) {
    throw new OutboundRefused(
      'LineTooLong',
      `Tags of line ${showBytes(line)} are ${tagBytes} bytes; expected at most ${CLIENT_TAGS_MAX} bytes of client tags.`,
    );
  }

  const budget = IRC_LINE_MAX - 2 - prefixLen; // bytes allowed after the tags section
  const bodyLength = line.length - tagsSectionLength;
  if (bodyLength <= budget) return [line];

  const { command, params } = parseOutbound(line);
  const tooLong = (why: string): OutboundRefused =>
    new OutboundRefused(
      'LineTooLong',
      `Line ${showBytes(line.subarray(tagsSectionLength))} is ${bodyLength} bytes without tags; with the relay prefix ` +
        `(${prefixLen} bytes) and CRLF it must fit in ${IRC_LINE_MAX}, so expected at most ${budget} bytes; ${why}.`,
    );
  if (!SPLITTABLE.has(command)) throw tooLong('only PRIVMSG and NOTICE are split');
  if (params.length !== 2) throw tooLong(`a ${command} to split must have exactly a target and a text, got ${params.length} parameters`);

  const [target, text] = params as [Buffer, Buffer];
  let inner = text;
  let open = Buffer.alloc(0);
  let close = Buffer.alloc(0);
  if (text.subarray(0, ACTION_OPEN.length).equals(ACTION_OPEN)) {
    // /me: every part must be an ACTION of its own, or the later parts show as plain text.
    const end = text[text.length - 1] === CTCP ? text.length - 1 : text.length;
    inner = text.subarray(ACTION_OPEN.length, end);
    open = ACTION_OPEN;
    close = ACTION_CLOSE;
  } else if (text[0] === CTCP) {
    throw tooLong('a CTCP other than ACTION cannot be split');
  }

  const head = Buffer.concat([line.subarray(0, tagsSectionLength), Buffer.from(`${command} `, 'latin1'), target, Buffer.from(' :', 'latin1')]);
  const room = budget - (head.length - tagsSectionLength) - open.length - close.length;
  if (room < MIN_TEXT_ROOM) throw tooLong(`the target ${showBytes(target)} leaves no room for text`);

  return splitText(inner, room).map((part) => Buffer.concat([head, open, part, close]));
}

/** 0b10xxxxxx: the middle of a UTF-8 sequence, where a cut would leave broken characters on both sides. */
function isContinuation(byte: number | undefined): boolean {
  return byte !== undefined && (byte & 0xc0) === 0x80;
}

/**
 * Cuts text into parts of at most `room` bytes whose concatenation is the text. Never cuts before
 * a continuation byte (so valid UTF-8 stays valid, and invalid text is not made worse), and
 * prefers to cut after the last space in the latter half of a part; the space stays at the end
 * of the earlier part so that joining the parts gives back the exact text.
 */
export function splitText(text: Buffer, room: number): Buffer[] {
  if (room < MIN_TEXT_ROOM) throw new RangeError(`room must be at least ${MIN_TEXT_ROOM} bytes, got ${room}`);
  const parts: Buffer[] = [];
  let start = 0;
  while (text.length - start > room) {
    let cut = room;
    // A UTF-8 sequence is at most 4 bytes, so at most 3 steps back reach its lead byte; a longer
    // run of continuation bytes is not a sequence at all, and then the full room is used.
    let back = 0;
    while (back < 3 && isContinuation(text[start + cut])) {
      cut--;
      back++;
    }
    if (isContinuation(text[start + cut])) cut = room;

    const space = text.subarray(start, start + cut).lastIndexOf(SPACE);
    if (space !== -1 && space >= Math.floor(cut / 2)) cut = space + 1;

    parts.push(text.subarray(start, start + cut));
    start += cut;
  }
  parts.push(text.subarray(start));
  return parts;
}
