/**
 * Which IRC commands plugins may send through the mouth. The operator may configure any list;
 * the default lets plugins talk, join and ask questions, and keeps connection control to the mouth.
 */
import { OutboundRefused, showBytes } from './outbound-error.js';

/** Commands plugins may send when the operator configures no list. */
export const DEFAULT_ALLOWED_COMMANDS: readonly string[] = Object.freeze([
  'PRIVMSG', 'NOTICE', 'TAGMSG',
  'JOIN', 'PART', 'TOPIC', 'MODE', 'KICK', 'INVITE', 'NAMES', 'LIST',
  'WHO', 'WHOIS', 'WHOWAS', 'ISON', 'USERHOST',
  'AWAY', 'NICK',
]);

/**
 * Commands deliberately absent from the default, with why. Not a hard ban: an operator who
 * lists one of them explicitly gets it. Documented here so refusals can explain themselves.
 */
export const REFUSED_BY_DEFAULT: Readonly<Record<string, string>> = Object.freeze({
  QUIT: 'the mouth owns the connection',
  PASS: 'registration belongs to the mouth',
  USER: 'registration belongs to the mouth',
  CAP: 'capability negotiation belongs to the mouth',
  AUTHENTICATE: 'SASL belongs to the mouth',
  PING: 'keep-alive belongs to the mouth',
  PONG: 'keep-alive belongs to the mouth',
  OPER: 'operator privileges must not be reachable from plugins',
  KILL: 'operator command',
  SQUIT: 'operator command',
  CONNECT: 'operator command',
  DIE: 'operator command',
  RESTART: 'operator command',
  REHASH: 'operator command',
  WALLOPS: 'operator command',
  SERVICE: 'service registration is not for plugins',
});

const COMMAND = /^(?:[A-Za-z]+|[0-9]{3})$/;

export interface AllowList {
  /** Throws OutboundRefused CommandNotAllowed unless the command (any case) is allowed. */
  check(command: string): void;
  /** True if the command (any case) is allowed. */
  has(command: string): boolean;
  /** The allowed commands, upper-cased. */
  readonly commands: readonly string[];
}

/** @param commands the operator's list (any case); DEFAULT_ALLOWED_COMMANDS when omitted. */
export function createAllowList(commands?: readonly string[]): AllowList {
  const list = commands ?? DEFAULT_ALLOWED_COMMANDS;
  for (const c of list) {
    // A typo in the configuration should fail at start-up, not silently allow nothing.
    if (!COMMAND.test(c)) throw new TypeError(`Allow-list entry ${JSON.stringify(c)} is not an IRC command; expected letters such as PRIVMSG.`);
  }
  const allowed = new Set(list.map((c) => c.toUpperCase()));
  const names = Object.freeze([...allowed]);

  const has = (command: string): boolean => allowed.has(command.toUpperCase());
  return {
    commands: names,
    has,
    check(command: string): void {
      if (has(command)) return;
      const upper = command.toUpperCase();
      const why = Object.prototype.hasOwnProperty.call(REFUSED_BY_DEFAULT, upper) ? ` (${REFUSED_BY_DEFAULT[upper]})` : '';
      const expected = names.length > 0 ? `one of ${names.join(', ')}` : 'nothing: the allow-list is empty';
      throw new OutboundRefused(
        'CommandNotAllowed',
        `Command ${showBytes(command)} is not allowed for plugins${why}; expected ${expected}.`,
      );
    },
  };
}
