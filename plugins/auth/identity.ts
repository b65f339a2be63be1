/**
 * Who is speaking, as far as the lines that passed down tell: the pure part of the auth filter
 * (no I/O, so it is unit-tested on its own). It learns accounts from the account-tag (the mouth's
 * hive.account), extended-join, account-notify and WHOX replies, and maps an account and a hostmask
 * to capabilities by the config.
 */
import { ChannelMembers, ircLower, isChannel, type IrcLine } from '../../protocol/sdk/index.js';

/** The WHOX token the filter puts on its own `WHO #chan %tna,<token>` queries. */
export const WHOX_TOKEN = '471';

export interface Grants {
  accounts: Record<string, string[]>;
  masks: Record<string, string[]>;
  default: string[];
}

export interface Identity {
  nick: string;
  /** nick!user@host as the server gave it. */
  mask: string;
  /** The services account; '' when known to be logged out; undefined when unknown. */
  account: string | undefined;
  /** The configured masks that match `mask`. */
  masks: string[];
  capabilities: string[];
}

/** A nick!user@host glob (`*` any run, `?` one character) as a case-insensitive RegExp. */
export function maskPattern(glob: string): RegExp {
  const body = ircLower(glob).replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 's');
}

export function maskMatches(glob: string, mask: string): boolean {
  return maskPattern(glob).test(ircLower(mask));
}

interface NetworkFlags {
  /** The server puts account-tag on every message (CAP ACK seen): no tag means not logged in. */
  accountTag?: boolean;
  /** The server supports WHOX (ISUPPORT WHOX seen); undefined when the auth filter started too late to see. */
  whox?: boolean;
  /** Channels already asked with WHOX on this connection (folded). */
  asked: Set<string>;
}

export class Identities {
  readonly members = new ChannelMembers();
  private readonly flags = new Map<string, NetworkFlags>();
  private readonly accounts: Map<string, string[]>;
  private readonly masks: [RegExp, string, string[]][];

  constructor(private readonly grants: Grants) {
    this.accounts = new Map(Object.entries(grants.accounts).map(([a, caps]) => [ircLower(a), caps]));
    this.masks = Object.entries(grants.masks).map(([m, caps]) => [maskPattern(m), m, caps]);
  }

  private net(network: string): NetworkFlags {
    let f = this.flags.get(network);
    if (!f) this.flags.set(network, (f = { asked: new Set() }));
    return f;
  }

  /** A new connection: what was known about the old one no longer holds. */
  connecting(network: string): void {
    this.members.reset(network);
    this.flags.set(network, { accountTag: false, whox: false, asked: new Set() });
  }

  /**
   * Feeds one line the server sent. Returns the channel to ask with WHOX now, if any: one the bot
   * has just joined (its members' accounts are not known yet).
   */
  see(network: string, line: IrcLine, ownNick: string | undefined): string | undefined {
    const f = this.net(network);
    this.members.see(network, line, ownNick);
    switch (line.command) {
      case 'CAP': {
        // :server CAP me ACK :account-tag extended-join …   (also NEW / DEL)
        const sub = line.params[1]?.toUpperCase();
        const caps = (line.params[line.params.length - 1] ?? '').split(' ');
        for (const c of caps) {
          const name = c.replace(/^-/, '').split('=')[0];
          if (name !== 'account-tag') continue;
          if (sub === 'ACK') f.accountTag = !c.startsWith('-');
          else if (sub === 'DEL') f.accountTag = false;
        }
        return undefined;
      }
      case '005':
        if (line.params.some((p) => p.toUpperCase() === 'WHOX')) f.whox = true;
        return undefined;
      case '354': {
        // :server 354 me <token> <nick> <account or 0>   (fields t, n, a in that order)
        const [, token, nick, account] = line.params;
        if (token === WHOX_TOKEN && nick && account !== undefined) this.members.setAccount(network, nick, account === '0' ? '' : account);
        return undefined;
      }
      case 'JOIN': {
        const channel = line.params[0];
        const me = ownNick !== undefined && line.nick !== '' && ircLower(line.nick) === ircLower(ownNick);
        if (!me || !channel) return undefined;
        f.asked.delete(ircLower(channel));
        return this.claimWhox(network, channel);
      }
      default:
        return undefined;
    }
  }

  /** The WHOX query for `channel` was not made after all: its next speaker may ask again. */
  forgetAsked(network: string, channel: string): void {
    this.net(network).asked.delete(ircLower(channel));
  }

  /** The channel to ask with WHOX, once per channel and connection, if the server may support it. */
  private claimWhox(network: string, channel: string): string | undefined {
    const f = this.net(network);
    if (f.whox === false || !isChannel(channel) || f.asked.has(ircLower(channel))) return undefined;
    f.asked.add(ircLower(channel));
    return channel;
  }

  /**
   * Who spoke `line` (nick!user@host in its prefix); `tagAccount` is the mouth's hive.account.
   * Returns undefined for a line with no user prefix (the server's own lines). `ask` is set to a
   * channel to query with WHOX when the speaker's account is unknown and nothing else will tell.
   */
  identify(network: string, line: IrcLine, tagAccount: string | undefined): { who: Identity; ask?: string } | undefined {
    if (!line.nick || !line.prefix.includes('!')) return undefined;
    const f = this.net(network);
    let account: string | undefined;
    if (tagAccount !== undefined && tagAccount !== '') {
      account = tagAccount;
      // The tag comes only with the account-tag capability: from now on its absence means something.
      f.accountTag = true;
      this.members.setAccount(network, line.nick, tagAccount);
    } else if (f.accountTag) {
      // With account-tag every message of a logged-in user carries the tag: none means none.
      account = '';
    } else {
      account = this.members.account(network, line.nick);
    }
    let ask: string | undefined;
    const target = line.params[0];
    if (account === undefined && !f.accountTag && line.command === 'PRIVMSG' && target && isChannel(target)) ask = this.claimWhox(network, target);
    return { who: this.grant(line.nick, line.prefix, account), ask };
  }

  /** The capabilities of a speaker: the default set, plus the account's, plus every matching mask's. */
  grant(nick: string, mask: string, account: string | undefined): Identity {
    const caps = new Set(this.grants.default);
    if (account) for (const c of this.accounts.get(ircLower(account)) ?? []) caps.add(c);
    const masks: string[] = [];
    const folded = ircLower(mask);
    for (const [re, glob, granted] of this.masks) {
      if (!re.test(folded)) continue;
      masks.push(glob);
      for (const c of granted) caps.add(c);
    }
    return { nick, mask, account, masks, capabilities: [...caps].sort() };
  }
}

/** The `whoami` answer. */
export function describe(who: Identity): string {
  const account = who.account === undefined ? 'unknown' : who.account === '' ? 'not logged in' : who.account;
  const masks = who.masks.length ? who.masks.join(', ') : 'none';
  const caps = who.capabilities.length ? who.capabilities.join(', ') : 'none';
  return `${who.nick} (${who.mask}): account ${account}; matching masks: ${masks}; capabilities: ${caps}`;
}
