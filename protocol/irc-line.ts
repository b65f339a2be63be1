/**
 * Parsing a raw IRC line, done once for the whole SDK. The bytes are decoded as UTF-8 for parsing
 * (invalid sequences become U+FFFD); the original bytes stay in the HiveMessage untouched.
 *
 * The same parse as irc-framework's line parser (a test holds the two equal on a corpus and on
 * random lines), written out here because that parser pulls in lodash through irc-framework's
 * helpers: 121 modules and ~0.6 MB of heap in every plugin process, for one split on '!' and '@'.
 */

export interface IrcLine {
  tags: Record<string, string>;
  prefix: string;
  nick: string;
  ident: string;
  hostname: string;
  command: string;
  params: string[];
}

const EDGE_NEWLINES = /^[\r\n]+|[\r\n]+$/g;
// IRCv3 tag value escapes; a backslash before anything else is dropped with it (as irc-framework does).
const TAG_ESCAPE = /\\\\|\\:|\\s|\\n|\\r|\\/gi;
const TAG_UNESCAPED: Record<string, string> = { '\\\\': '\\', '\\:': ';', '\\s': ' ', '\\n': '\n', '\\r': '\r' };

function decodeTags(s: string): Record<string, string> {
  // No prototype: a tag named __proto__ is just a tag.
  const tags: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const tag of s.split(';')) {
    const eq = tag.indexOf('=');
    const key = (eq < 0 ? tag : tag.slice(0, eq)).toLowerCase();
    if (!key) continue;
    tags[key] = (eq < 0 ? '' : tag.slice(eq + 1)).replace(TAG_ESCAPE, (m) => TAG_UNESCAPED[m] ?? '');
  }
  return tags;
}

/**
 * nick!user@host, or the parts of it there are (a server name has a dot and no nick). substring,
 * not slice, as irc-framework: with '@' before '!', it swaps its bounds, and so must we.
 */
function splitMask(mask: string): { nick: string; ident: string; hostname: string } {
  const bang = mask.indexOf('!');
  const at = mask.indexOf('@');
  if (bang === -1 && at === -1) return mask.includes('.') ? { nick: '', ident: '', hostname: mask } : { nick: mask, ident: '', hostname: '' };
  if (bang === -1) return { nick: mask.substring(0, at), ident: '', hostname: mask.substring(at + 1) };
  if (at === -1) return { nick: mask.substring(0, bang), ident: mask.substring(bang + 1), hostname: '' };
  return { nick: mask.substring(0, bang), ident: mask.substring(bang + 1, at), hostname: mask.substring(at + 1) };
}

export function parseLine(line: Buffer | string): IrcLine | undefined {
  const input = (typeof line === 'string' ? line : line.toString('utf8')).replace(EDGE_NEWLINES, '');
  let pos = 0;
  let inParams = false;
  const skipSpaces = () => { while (input[pos] === ' ' && pos < input.length) pos++; };
  const next = (): string | null => {
    skipSpaces();
    if (pos === input.length) return inParams ? null : '';
    let end = input.indexOf(' ', pos);
    if (end === -1) end = input.length;
    // A parameter starting with ':' is the last one, spaces and all.
    if (inParams && input[pos] === ':' && input[pos - 1] === ' ') {
      pos++;
      end = input.length;
    }
    const token = input.substring(pos, end);
    pos = end;
    skipSpaces();
    return token;
  };
  let tags: Record<string, string> = Object.create(null) as Record<string, string>;
  let prefix = '';
  let mask = { nick: '', ident: '', hostname: '' };
  if (input[pos] === '@') tags = decodeTags(next()!.slice(1));
  if (input[pos] === ':') {
    prefix = next()!.slice(1);
    mask = splitMask(prefix);
  }
  const command = next()!.toUpperCase();
  if (!command) return undefined;
  inParams = true;
  const params: string[] = [];
  for (let t = next(); t !== null; t = next()) params.push(t);
  return { tags, prefix, ...mask, command, params };
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
