/**
 * Recognising a command in a PRIVMSG: with the prefix (`!ping`), addressed to the bot's nick
 * (`hive: ping`, `hive, ping`), or in a private message with no prefix. Pure, no I/O.
 */
import { isChannel, type IrcLine } from '../irc-line.js';

export interface ParsedCommand {
  /** The command word, lower case. */
  name: string;
  /** Everything after the command word, trimmed. */
  args: string;
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
  let rest: string | undefined;
  if (prefix && text.startsWith(prefix)) {
    rest = text.slice(prefix.length);
  } else if (ownNick) {
    const m = addressedTo(ownNick).exec(text);
    if (m) rest = text.slice(m[0].length);
  }
  if (rest === undefined && isPrivate) rest = text;
  if (rest === undefined) return undefined;
  const m = /^(\S+)\s*([\s\S]*)$/.exec(rest.trimStart());
  if (!m) return undefined;
  return {
    name: m[1]!.toLowerCase(),
    args: m[2]!.trim(),
    nick: line.nick,
    replyTo: isPrivate ? line.nick : target,
    target,
    isPrivate,
  };
}
