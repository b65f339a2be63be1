/**
 * Who is in each bridged channel, from NAMES replies, JOIN, PART, KICK, NICK and QUIT. Needed
 * because QUIT and NICK name no channel: to relay them, the bridge must know where the user was.
 * Keys are endpoint keys (config.ts); nicks are folded with ircLower. Pure.
 */
import { ircLower } from '../../protocol/irc-line.js';

/** Channel membership prefixes a NAMES reply may put before a nick (multi-prefix gives several). */
const PREFIXES = /^[~&@%+!.]+/;

export class Members {
  private readonly channels = new Map<string, Set<string>>();

  private set(key: string): Set<string> {
    let s = this.channels.get(key);
    if (!s) { s = new Set(); this.channels.set(key, s); }
    return s;
  }

  /** One RPL_NAMREPLY: a space-separated list, possibly with prefixes and `nick!user@host` (userhost-in-names). */
  names(key: string, list: string): void {
    const s = this.set(key);
    for (const entry of list.split(' ')) {
      const nick = entry.replace(PREFIXES, '').split('!')[0];
      if (nick) s.add(ircLower(nick));
    }
  }

  join(key: string, nick: string): void { this.set(key).add(ircLower(nick)); }

  part(key: string, nick: string): void { this.channels.get(key)?.delete(ircLower(nick)); }

  has(key: string, nick: string): boolean { return this.channels.get(key)?.has(ircLower(nick)) ?? false; }

  /** Forgets a channel (the bot left it, or is about to get a fresh NAMES list). */
  clear(key: string): void { this.channels.delete(key); }

  /** Forgets every channel whose key starts with `prefix` (a network that disconnected). */
  clearWhere(pred: (key: string) => boolean): void {
    for (const k of [...this.channels.keys()]) if (pred(k)) this.channels.delete(k);
  }

  /** Removes the nick from the given channels; returns those it was in. */
  quit(keys: readonly string[], nick: string): string[] {
    const n = ircLower(nick);
    return keys.filter((k) => this.channels.get(k)?.delete(n) === true);
  }

  /** Renames the nick in the given channels; returns those it was in. */
  rename(keys: readonly string[], from: string, to: string): string[] {
    const a = ircLower(from);
    const b = ircLower(to);
    const where = keys.filter((k) => this.channels.get(k)?.has(a) === true);
    for (const k of where) {
      const s = this.channels.get(k)!;
      s.delete(a);
      s.add(b);
    }
    return where;
  }
}
