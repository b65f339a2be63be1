/**
 * The least a line from an IRC server must have to be taken at all: a command, and as many
 * parameters as the command always has (RFC 1459/2812, IRCv3). A line short of them is dropped
 * as malformed before irc-framework or any plugin sees it: irc-framework's handlers read missing
 * parameters as undefined (and throw, or store undefined as the bot's nick), and so would a
 * plugin's. Commands not listed here are passed as they are.
 */
import type { IrcLine } from '../protocol/irc-line.js';

const MIN_PARAMS: Record<string, number> = {
  PRIVMSG: 2, NOTICE: 2, TAGMSG: 1, JOIN: 1, PART: 1, KICK: 2, NICK: 1, MODE: 1, TOPIC: 2, INVITE: 2,
  KILL: 1, ACCOUNT: 1, CHGHOST: 2, SETNAME: 1, CAP: 2, BATCH: 1, AUTHENTICATE: 1, WALLOPS: 1,
};

/** Why the line cannot be taken, or undefined when its shape is fine. */
export function shapeProblem(p: IrcLine): string | undefined {
  if (!/^(?:[A-Za-z]+|\d{3})$/.test(p.command)) return 'the command is not letters or a 3-digit numeric';
  // A numeric's first parameter is always its target (the bot's nick, or * before registering).
  const min = /^\d{3}$/.test(p.command) ? 1 : MIN_PARAMS[p.command] ?? 0;
  if (p.params.length < min) return `${p.command} needs at least ${min} parameter${min === 1 ? '' : 's'}`;
  return undefined;
}
