/**
 * Recognising a command in a PRIVMSG: with the prefix (`!ping`), addressed to the bot's nick
 * (`hive: ping`, `hive, ping`), or in a private message with no prefix. Pure, no I/O.
 * The arguments are given as text (decoded as UTF-8, invalid bytes as U+FFFD) and, by argsBytes,
 * as the very bytes the user sent: the protocol carries bytes end to end, and a plugin that says
 * them back (echo) must not turn a Latin-1 or broken text into U+FFFD.
 */
import { isChannel, type IrcLine } from '../irc-line.js';

export interface ParsedCommand {
  /** The command word, lower case. */
  name: string;
  /** Everything after the command word, trimmed. */
  args: string;
  /** Where `args` starts in the PRIVMSG text (UTF-16 index); for argsBytes. */
  argsStart: number;
  /** Who spoke. */
  nick: string;
  /** Where the reply goes: the channel, or the speaker for a private message. */
  replyTo: string;
  /** Where the line was said (the channel, or the bot's nick for a private message). */
  target: string;
  isPrivate: boolean;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

let cachedNick = '';
let cachedRe = /$^/;

/** `nick: ` or `nick, ` at the start of a line; compiled once per nick, not once per message. */
function addressedTo(nick: string): RegExp {
  if (nick !== cachedNick) {
    cachedNick = nick;
    cachedRe = new RegExp(`^${escapeRegExp(nick)}[:,]\\s*`, 'i');
  }
  return cachedRe;
}

export function parseCommand(line: IrcLine, ownNick: string | undefined, prefix: string): ParsedCommand | undefined {
  if (line.command !== 'PRIVMSG' || line.params.length < 2) return undefined;
  const target = line.params[0]!;
  const text = line.params[line.params.length - 1]!;
  const isPrivate = !isChannel(target);
  let restAt: number | undefined;
  if (prefix && text.startsWith(prefix)) {
    restAt = prefix.length;
  } else if (ownNick) {
    const m = addressedTo(ownNick).exec(text);
    if (m) restAt = m[0].length;
  }
  if (restAt === undefined && isPrivate) restAt = 0;
  if (restAt === undefined) return undefined;
  const rest = text.slice(restAt);
  const lead = rest.length - rest.trimStart().length;
  const m = /^(\S+)(\s*)([\s\S]*)$/.exec(rest.slice(lead));
  if (!m) return undefined;
  return {
    name: m[1]!.toLowerCase(),
    args: m[3]!.trim(),
    argsStart: restAt + lead + m[1]!.length + m[2]!.length,
    nick: line.nick,
    replyTo: isPrivate ? line.nick : target,
    target,
    isPrivate,
  };
}

const SPACE = 0x20;
const COLON = 0x3a;

/** The last parameter of a raw IRC line, as bytes (the text of a PRIVMSG); undefined if there is none. */
export function lastParamBytes(raw: Buffer): Buffer | undefined {
  let pos = 0;
  const skipWord = () => { const sp = raw.indexOf(SPACE, pos); pos = sp === -1 ? raw.length : sp; while (raw[pos] === SPACE) pos++; };
  if (raw[0] === 0x40) skipWord(); // @tags
  if (raw[pos] === COLON) skipWord(); // :prefix
  skipWord(); // command
  let last: Buffer | undefined;
  while (pos < raw.length) {
    if (raw[pos] === COLON) return raw.subarray(pos + 1);
    const start = pos;
    const sp = raw.indexOf(SPACE, pos);
    last = raw.subarray(start, sp === -1 ? raw.length : sp);
    pos = sp === -1 ? raw.length : sp;
    while (raw[pos] === SPACE) pos++;
  }
  return last;
}

/**
 * The bytes of a command's arguments in the raw line they came from, exactly as the user sent
 * them; falls back to the UTF-8 of `args` if the line does not match its parse (never expected).
 */
export function argsBytesOf(raw: Buffer, cmd: Pick<ParsedCommand, 'args' | 'argsStart'>): Buffer {
  const fallback = () => Buffer.from(cmd.args, 'utf8');
  const textBytes = lastParamBytes(raw);
  if (!textBytes) return fallback();
  const text = textBytes.toString('utf8');
  // What precedes the arguments (prefix, command word, spaces) and follows them (trailing
  // whitespace) is what the parse saw; its UTF-8 length is its length in the raw bytes as long
  // as it decoded cleanly, which the comparison below confirms.
  const head = Buffer.byteLength(text.slice(0, cmd.argsStart), 'utf8');
  const tail = Buffer.byteLength(text.slice(cmd.argsStart + cmd.args.length), 'utf8');
  if (head + tail > textBytes.length) return fallback();
  const bytes = textBytes.subarray(head, textBytes.length - tail);
  return bytes.toString('utf8') === cmd.args ? Buffer.from(bytes) : fallback();
}
