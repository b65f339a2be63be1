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

/**
 * Capabilities one CAP line may name. A real server splits its CAP LS at 512 bytes, some 30 names
 * at most; irc-framework stores every name of LS/NEW in a Map and does O(all) work per ACK/NAK.
 */
export const CAP_TOKENS_MAX = 64;
/**
 * Capabilities the bot may have asked for and not had answered. irc-framework appends what it
 * wants (some 17 names) to this list on every CAP LS/NEW; only ACK/NAK take them off, so a server
 * that keeps offering without answering would grow it, and each line copies it.
 */
export const CAP_REQUESTED_MAX = 64;

/** irc-framework's CAP state (network.cap) that the rules below read. */
export interface CapState { requested: readonly string[] }

/**
 * Why a CAP line cannot be taken, or undefined. What irc-framework keeps from CAP lines has no
 * bound of its own, so: a CAP line naming more than CAP_TOKENS_MAX capabilities; a CAP LS or NEW
 * while CAP_REQUESTED_MAX requests are unanswered; a CAP ACK of a capability the bot did not
 * request (or is not waiting for: a second ACK of it), which irc-framework would add to its
 * enabled list with an O(n) de-duplication per line. Subcommands are compared as irc-framework
 * does (case-sensitively).
 */
export function capProblem(p: IrcLine, cap: CapState): string | undefined {
  const sub = p.params[1];
  // The capabilities, as irc-framework splits them (it takes the last parameter).
  const names = (p.params[p.params.length - 1] ?? '').split(' ').filter((t) => t !== '');
  if (names.length > CAP_TOKENS_MAX) return `CAP ${sub} names ${names.length} capabilities (at most ${CAP_TOKENS_MAX} a line)`;
  if ((sub === 'LS' || sub === 'NEW') && cap.requested.length >= CAP_REQUESTED_MAX) {
    return `CAP ${sub} while ${cap.requested.length} capability requests are unanswered (at most ${CAP_REQUESTED_MAX})`;
  }
  if (sub === 'ACK') {
    for (const t of names) {
      // ~ and = are CAP 3.1 modifiers of a name; '-' (disabled) is never requested by the bot.
      const name = t.replace(/^[~=]/, '').split('=')[0]!;
      if (!cap.requested.includes(name)) return `CAP ACK of ${JSON.stringify(name.slice(0, 64))}, a capability the bot did not request`;
    }
  }
  return undefined;
}
