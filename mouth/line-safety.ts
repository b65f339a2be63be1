/**
 * Structural safety of one outbound IRC line from a plugin. Lines are bytes (the encoding of a
 * network is unknown), without CRLF; the mouth adds the line ending itself, so any CR, LF or NUL
 * inside a line could only serve to smuggle a second command onto the connection.
 *
 * Shape accepted: [ "@" tags SPACE ] command [ SPACE params ], where command is letters or a
 * 3-digit numeric. A ":prefix" is refused: servers ignore or reject a client-sent prefix, and a
 * plugin has no business pretending to be someone else.
 */
import { OutboundRefused, showBytes } from './outbound-error.js';

const CR = 0x0d;
const LF = 0x0a;
const NUL = 0x00;
const SPACE = 0x20;
const COLON = 0x3a;
const AT = 0x40;

const COMMAND = /^(?:[A-Za-z]+|[0-9]{3})$/;
/** IRCv3 tag key: optional client-only `+`, optional `vendor/`, then the name. */
const TAG_KEY = /^\+?(?:[A-Za-z0-9.-]+\/)?[A-Za-z0-9-]+$/;

export interface OutboundLine {
  /** The tags without the leading `@` and the trailing space, as sent (values still escaped). */
  tags?: string;
  /** The command, upper-cased. */
  command: string;
  /** Parameters as bytes; the last one may contain spaces if it was given after ` :`. */
  params: Buffer[];
}

/** Where the parts of a checked line start; shared with line-split, which must keep bytes exact. */
export interface LineLayout {
  /** Bytes of the tags section including `@` and the space (0 without tags). */
  tagsSectionLength: number;
  /** Offset just past the command. */
  commandEnd: number;
}

/** Throws OutboundRefused unless the line is safe to put on the wire as one IRC line. */
export function checkLine(line: Buffer): void {
  layoutOf(line);
}

/** Checks the line (as checkLine) and returns where its tags section and command end. */
export function layoutOf(line: Buffer): LineLayout {
  if (line.length === 0) {
    throw new OutboundRefused('InvalidLine', 'Empty line; expected an IRC command such as "PRIVMSG #channel :text".');
  }
  for (let i = 0; i < line.length; i++) {
    const b = line[i];
    if (b === CR || b === LF || b === NUL) {
      const what = b === CR ? 'CR (\\r)' : b === LF ? 'LF (\\n)' : 'NUL (\\x00)';
      throw new OutboundRefused(
        'InjectionAttempt',
        `Line ${showBytes(line)} contains ${what} at byte ${i}; a line must be one IRC line without CR, LF or NUL (the mouth adds CRLF itself).`,
      );
    }
  }

  let pos = 0;
  if (line[0] === AT) {
    const space = line.indexOf(SPACE);
    if (space === -1) {
      throw new OutboundRefused('InvalidLine', `Line ${showBytes(line)} has tags but no command; expected "@tags COMMAND ...".`);
    }
    checkTags(line.subarray(1, space));
    pos = space + 1;
  }

  if (line[pos] === COLON) {
    throw new OutboundRefused(
      'InvalidLine',
      `Line ${showBytes(line)} starts with a prefix ":..."; plugins must not send a prefix, the server adds it. Expected a command.`,
    );
  }

  let end = line.indexOf(SPACE, pos);
  if (end === -1) end = line.length;
  const command = line.subarray(pos, end);
  if (!COMMAND.test(command.toString('latin1'))) {
    throw new OutboundRefused(
      'InvalidLine',
      `Line ${showBytes(line)} has no valid command (got ${showBytes(command)}); expected letters such as PRIVMSG or a 3-digit numeric.`,
    );
  }
  return { tagsSectionLength: pos, commandEnd: end };
}

function checkTags(tags: Buffer): void {
  if (tags.length === 0) {
    throw new OutboundRefused('InvalidLine', 'Line has "@" with no tags after it; expected "@key=value;key2 COMMAND ...".');
  }
  // Tag values may hold any byte but space, CR, LF, NUL and `;`, which the split below and the
  // checks above already exclude; only the keys have a syntax worth checking.
  for (const tag of tags.toString('utf8').split(';')) {
    if (tag === '') continue; // a trailing or doubled `;` is harmless
    const eq = tag.indexOf('=');
    const key = eq === -1 ? tag : tag.slice(0, eq);
    if (!TAG_KEY.test(key)) {
      throw new OutboundRefused(
        'InvalidLine',
        `Tag key ${showBytes(key)} is not valid; expected [+][vendor/]name with letters, digits and "-".`,
      );
    }
  }
}

/**
 * Splits a line into tags, command and parameters, after checking it like checkLine.
 * Minimal on purpose: enough for the allow-list and the splitter, not a full IRC parser.
 */
export function parseOutbound(line: Buffer): OutboundLine {
  const { tagsSectionLength, commandEnd } = layoutOf(line);
  const command = line.subarray(tagsSectionLength, commandEnd).toString('latin1').toUpperCase();
  const params: Buffer[] = [];
  let pos = commandEnd;
  while (pos < line.length) {
    while (pos < line.length && line[pos] === SPACE) pos++; // tolerate doubled spaces, as servers do
    if (pos >= line.length) break;
    if (line[pos] === COLON) {
      params.push(line.subarray(pos + 1));
      break;
    }
    let end = line.indexOf(SPACE, pos);
    if (end === -1) end = line.length;
    params.push(line.subarray(pos, end));
    pos = end;
  }
  const result: OutboundLine = { command, params };
  if (tagsSectionLength > 0) result.tags = line.subarray(1, tagsSectionLength - 1).toString('utf8');
  return result;
}

const CTCP_DELIM = 0x01;
const ACTION = Buffer.from('\x01ACTION ');
const ACTION_BARE = Buffer.from('\x01ACTION\x01');

/**
 * What a checked line would make others' clients do, beyond showing text:
 * - a PRIVMSG or NOTICE whose text holds \x01 is CTCP: a request (VERSION, PING, DCC …) to
 *   everyone in a channel, or a reply. Text a plugin took from a user must not become one, so only
 *   ACTION (`/me`) passes — the whole text `\x01ACTION …\x01` with no other \x01 in it — unless the
 *   message asked for CTCP (hive.ctcp). Any \x01 counts, not only a leading one: older clients
 *   (ircII and its heirs) act on CTCP embedded in the middle of a text.
 * - `JOIN 0` parts every channel at once (RFC 2812), and the mouth would never rejoin them.
 * Throws OutboundRefused CtcpNotAllowed or JoinZero.
 */
export function checkEffect(line: OutboundLine, opts: { ctcp?: boolean } = {}): void {
  const { command, params } = line;
  if (command === 'JOIN' && params[0] !== undefined && params[0].toString('latin1').split(',').includes('0')) {
    throw new OutboundRefused('JoinZero', 'JOIN 0 would part every channel at once; expected channel names (PART a channel to leave it).');
  }
  if ((command === 'PRIVMSG' || command === 'NOTICE') && !opts.ctcp && params.length >= 2) {
    // Every parameter after the target, not only the last: some servers take the first of them as
    // the text (a plugin that wrote `PRIVMSG #c \x01VERSION\x01 x` without the ':'), others join them.
    for (let i = 1; i < params.length; i++) {
      const text = params[i]!;
      const first = text.indexOf(CTCP_DELIM);
      if (first === -1 || (params.length === 2 && isAction(text))) continue;
      throw new OutboundRefused(
        'CtcpNotAllowed',
        `The text ${showBytes(text)} holds a CTCP \\x01 (byte ${first}); only ACTION ("\\x01ACTION text\\x01") may be sent unless the message sets hive.ctcp.`,
      );
    }
  }
}

/** `\x01ACTION text` with an optional closing \x01 and no other \x01 (or a bare `\x01ACTION\x01`). */
function isAction(text: Buffer): boolean {
  if (text.equals(ACTION_BARE)) return true;
  if (text.length < ACTION.length || !text.subarray(0, ACTION.length).equals(ACTION)) return false;
  const next = text.indexOf(CTCP_DELIM, ACTION.length);
  return next === -1 || next === text.length - 1;
}
