/**
 * Parsing a raw IRC line, done once for the whole SDK with irc-framework's parser. The bytes are
 * decoded as UTF-8 for parsing (invalid sequences become U+FFFD); the original bytes stay in the
 * HiveMessage untouched.
 */
// Only the parser: the whole irc-framework package would add ~6 MB to every plugin process.
import ircLineParser from 'irc-framework/src/irclineparser.js';

export interface IrcLine {
  tags: Record<string, string>;
  prefix: string;
  nick: string;
  ident: string;
  hostname: string;
  command: string;
  params: string[];
}

export function parseLine(line: Buffer | string): IrcLine | undefined {
  const text = typeof line === 'string' ? line : line.toString('utf8');
  const parsed = ircLineParser(text);
  if (!parsed || !parsed.command) return undefined;
  return { ...parsed, command: parsed.command.toUpperCase() };
}

const CHANNEL_PREFIXES = '#&+!';

const RFC1459_FOLD: Record<string, string> = { '[': '{', ']': '}', '\\': '|', '~': '^' };

/**
 * IRC's case-insensitive form of a nick or channel (rfc1459 casemapping, the default when a server
 * names none): []\~ fold to {}|^, and letters to lower case.
 */
export function ircLower(s: string): string {
  return s.toLowerCase().replace(/[[\]\\~]/g, (c) => RFC1459_FOLD[c]!);
}

export function isChannel(target: string): boolean {
  return target.length > 0 && CHANNEL_PREFIXES.includes(target[0]!);
}

/** `PRIVMSG target :text` (text may be empty). */
export function privmsg(target: string, text: string): string {
  return `PRIVMSG ${target} :${text}`;
}

export function notice(target: string, text: string): string {
  return `NOTICE ${target} :${text}`;
}
