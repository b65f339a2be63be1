/**
 * Who is in which channel, per network, learnt from the lines that pass down the tree: JOIN
 * (with IRCv3 extended-join's account), PART, KICK, QUIT, NICK, ACCOUNT (account-notify) and the
 * NAMES replies (353 / 366). Plugins that need to know whether a nick is present (alerts, the
 * sanitizer's mass-highlight check) or which account a nick is logged in as (auth) feed every
 * line to one of these.
 *
 * Nicks and channels compare with the rfc1459 case mapping, the default of IRC servers.
 */
import { ircLower, type IrcLine } from '../irc-line.js';

const PREFIXES = /^[~&@%+!]+/;

interface NetworkState {
  /** channel (folded) → nick (folded) → nick as last seen */
  channels: Map<string, Map<string, string>>;
  /** channels whose NAMES reply is being received (folded) → the nicks so far */
  names: Map<string, Map<string, string>>;
  /** nick (folded) → account; absent when unknown, '' when known to be logged out */
  accounts: Map<string, string>;
  /** channels (folded) whose whole member list is known: a NAMES reply ended there since the bot joined */
  complete: Set<string>;
}

export class ChannelMembers {
  private readonly networks = new Map<string, NetworkState>();

  private net(network: string): NetworkState {
    let n = this.networks.get(network);
    if (!n) this.networks.set(network, (n = { channels: new Map(), names: new Map(), accounts: new Map(), complete: new Set() }));
    return n;
  }

  /** Feeds one line the server sent on `network`; `ownNick` is the bot's nick there (hive.nick). */
  see(network: string, line: IrcLine, ownNick?: string): void {
    const n = this.net(network);
    const nick = line.nick;
    const me = ownNick !== undefined && nick !== '' && ircLower(nick) === ircLower(ownNick);
    switch (line.command) {
      case 'JOIN': {
        const channel = line.params[0];
        if (!channel || !nick) return;
        let members = n.channels.get(ircLower(channel));
        if (me) n.complete.delete(ircLower(channel)); // complete again when its NAMES reply ends
        if (!members || me) n.channels.set(ircLower(channel), (members = me ? new Map() : members ?? new Map()));
        members.set(ircLower(nick), nick);
        const account = line.params[1]; // extended-join: JOIN #chan account :realname
        if (account !== undefined && line.params.length >= 3) n.accounts.set(ircLower(nick), account === '*' ? '' : account);
        return;
      }
      case 'PART': {
        const channel = line.params[0];
        if (!channel || !nick) return;
        if (me) this.leave(n, channel);
        else n.channels.get(ircLower(channel))?.delete(ircLower(nick));
        this.forgetIfGone(n, nick);
        return;
      }
      case 'KICK': {
        const [channel, target] = line.params;
        if (!channel || !target) return;
        if (ownNick !== undefined && ircLower(target) === ircLower(ownNick)) this.leave(n, channel);
        else n.channels.get(ircLower(channel))?.delete(ircLower(target));
        this.forgetIfGone(n, target);
        return;
      }
      case 'QUIT': {
        if (!nick) return;
        for (const members of n.channels.values()) members.delete(ircLower(nick));
        n.accounts.delete(ircLower(nick));
        return;
      }
      case 'NICK': {
        const to = line.params[0];
        if (!nick || !to) return;
        for (const members of n.channels.values()) {
          if (members.delete(ircLower(nick))) members.set(ircLower(to), to);
        }
        const account = n.accounts.get(ircLower(nick));
        n.accounts.delete(ircLower(nick));
        if (account !== undefined) n.accounts.set(ircLower(to), account);
        return;
      }
      case 'ACCOUNT': {
        const account = line.params[0];
        if (nick && account !== undefined) n.accounts.set(ircLower(nick), account === '*' ? '' : account);
        return;
      }
      case '353': {
        // :server 353 me = #chan :@op +voice plain
        const channel = line.params[2];
        if (!channel) return;
        let list = n.names.get(ircLower(channel));
        if (!list) n.names.set(ircLower(channel), (list = new Map()));
        for (const entry of (line.params[3] ?? '').split(' ')) {
          const bare = entry.replace(PREFIXES, '').split('!')[0]!; // userhost-in-names gives nick!user@host
          if (bare) list.set(ircLower(bare), bare);
        }
        return;
      }
      case '366': {
        const channel = line.params[1];
        if (!channel) return;
        const list = n.names.get(ircLower(channel));
        n.names.delete(ircLower(channel));
        if (list) n.channels.set(ircLower(channel), list);
        n.complete.add(ircLower(channel));
        return;
      }
      default:
    }
  }

  private leave(n: NetworkState, channel: string): void {
    n.channels.delete(ircLower(channel));
    n.complete.delete(ircLower(channel));
  }

  private forgetIfGone(n: NetworkState, nick: string): void {
    const key = ircLower(nick);
    for (const members of n.channels.values()) if (members.has(key)) return;
    n.accounts.delete(key);
  }

  /** True if `nick` is in `channel` on `network`, as far as the lines seen tell. */
  has(network: string, channel: string, nick: string): boolean {
    return this.networks.get(network)?.channels.get(ircLower(channel))?.has(ircLower(nick)) ?? false;
  }

  /** True once the whole member list of `channel` is known (its NAMES reply ended since the bot joined). */
  complete(network: string, channel: string): boolean {
    return this.networks.get(network)?.complete.has(ircLower(channel)) ?? false;
  }

  /** The nicks in `channel` (as last seen), empty when unknown. */
  members(network: string, channel: string): string[] {
    return [...(this.networks.get(network)?.channels.get(ircLower(channel))?.values() ?? [])];
  }

  /** The channels the bot is known to sit in on `network`. */
  channels(network: string): string[] {
    return [...(this.networks.get(network)?.channels.keys() ?? [])];
  }

  /** True if `nick` shares at least one channel with the bot on `network`. */
  visible(network: string, nick: string): boolean {
    const key = ircLower(nick);
    for (const members of this.networks.get(network)?.channels.values() ?? []) if (members.has(key)) return true;
    return false;
  }

  /** The account `nick` is logged in as: a name, '' when known to be logged out, undefined when unknown. */
  account(network: string, nick: string): string | undefined {
    return this.networks.get(network)?.accounts.get(ircLower(nick));
  }

  /** Records an account learnt some other way (WHOX, the account-tag of a message). */
  setAccount(network: string, nick: string, account: string | undefined): void {
    if (account === undefined) this.net(network).accounts.delete(ircLower(nick));
    else this.net(network).accounts.set(ircLower(nick), account === '*' ? '' : account);
  }

  /** Forgets a network (the mouth reported it disconnected: the next NAMES replies rebuild it). */
  reset(network: string): void {
    this.networks.delete(network);
  }
}
