/**
 * Who is in which channel, per network, from the lines the server sends down the tree: the bot's
 * own JOIN/PART/KICK, other users' JOIN/PART/KICK/QUIT/NICK, and NAMES replies (353/366).
 *
 * A plugin that starts (or restarts) after the bot joined its channels has missed all that. Then
 * it resyncs: WHOIS on the bot's own nick lists its channels (319), and NAMES for each fills them
 * in. Until that is done (or `resyncTimeoutMs` passed) the network is not `ready`, so that alerts
 * for the first lines after a restart are not decided on an empty picture.
 */
import type { Logger } from 'pino';
import type { Incoming } from '../../protocol/sdk/index.js';
import { ircLower, isChannel } from '../../protocol/sdk/index.js';


type Members = Map<string, string>; // folded nick → nick as last seen

interface Resync {
  whoisDone: boolean;
  /** Channels whose NAMES reply is awaited. */
  names: Set<string>;
  timer: NodeJS.Timeout;
}

interface NetState {
  /** Channels the bot is in (folded) → their members, without the bot itself. */
  channels: Map<string, Members>;
  /** NAMES replies (353) being collected until 366. */
  collecting: Map<string, Members>;
  /** Membership prefix symbols (ISUPPORT PREFIX). */
  symbols: string;
  /** Whether the picture is complete: seen from the connection's start, or resynced. */
  ready: boolean;
  resync: Resync | undefined;
  waiters: (() => void)[];
}

export interface MembershipOptions {
  log: Logger;
  /** Sends raw lines up to `network` (WHOIS, NAMES). */
  send: (network: string, lines: string[]) => Promise<void>;
  resyncTimeoutMs?: number;
  /** Called when a network's picture became complete (the moment mayMention can change without a line). */
  settled?: () => void;
}

export class Membership {
  private readonly nets = new Map<string, NetState>();

  constructor(private readonly opts: MembershipOptions) {}

  private net(network: string): NetState {
    let n = this.nets.get(network);
    if (!n) {
      n = { channels: new Map(), collecting: new Map(), symbols: '~&@%+', ready: false, resync: undefined, waiters: [] };
      this.nets.set(network, n);
    }
    return n;
  }

  /** Feeds one message that came down the tree. */
  observe(msg: Incoming): void {
    const network = msg.network;
    if (!network || msg.meta['hive.query']) return;
    const n = this.net(network);
    const event = msg.meta['hive.event'];
    if (event === 'connecting' || event === 'registered' || event === 'disconnected') {
      // A new connection starts with no channels, and from here on every line is seen.
      n.channels.clear();
      n.collecting.clear();
      this.finish(n, true);
      return;
    }
    const irc = msg.irc;
    const own = msg.meta['hive.nick'];
    if (!irc || !own) return;
    this.line(network, n, irc.command, irc.nick, irc.params, ircLower(own));
    if (!n.ready && !n.resync) this.startResync(network, n, own);
  }

  private line(network: string, n: NetState, command: string, nick: string, params: string[], own: string): void {
    const who = ircLower(nick);
    const chan = params[0] ? ircLower(params[0]) : '';
    switch (command) {
      case 'JOIN':
        if (who === own) n.channels.set(chan, new Map());
        else n.channels.get(chan)?.set(who, nick);
        break;
      case 'PART':
        if (who === own) n.channels.delete(chan);
        else n.channels.get(chan)?.delete(who);
        break;
      case 'KICK': {
        const victim = ircLower(params[1] ?? '');
        if (victim === own) n.channels.delete(chan);
        else n.channels.get(chan)?.delete(victim);
        break;
      }
      case 'QUIT':
        for (const m of n.channels.values()) m.delete(who);
        break;
      case 'NICK': {
        const to = params[0];
        if (!to || who === own) break;
        for (const m of n.channels.values()) if (m.delete(who)) m.set(ircLower(to), to);
        break;
      }
      case '005': {
        const prefix = params.find((p) => p.startsWith('PREFIX='));
        const m = prefix && /^PREFIX=\([^)]*\)(.*)$/.exec(prefix);
        if (m && m[1]) n.symbols = m[1];
        break;
      }
      case '353': {
        // :server 353 me = #chan :@op +voiced plain (multi-prefix and userhost-in-names allowed)
        const c = ircLower(params[params.length - 2] ?? '');
        if (!n.channels.has(c) && !n.resync?.names.has(c)) break; // a NAMES for a channel the bot is not in
        let members = n.collecting.get(c);
        if (!members) n.collecting.set(c, (members = new Map()));
        for (const entry of (params[params.length - 1] ?? '').split(' ')) {
          let i = 0;
          while (i < entry.length && n.symbols.includes(entry[i]!)) i++;
          const name = entry.slice(i).split('!')[0]!;
          if (name && ircLower(name) !== own) members.set(ircLower(name), name);
        }
        break;
      }
      case '366': {
        const c = ircLower(params[1] ?? '');
        const members = n.collecting.get(c);
        n.collecting.delete(c);
        if (n.channels.has(c) || n.resync?.names.has(c)) n.channels.set(c, members ?? new Map());
        if (n.resync?.names.delete(c) && n.resync.whoisDone && n.resync.names.size === 0) this.finish(n, true);
        break;
      }
      case '319': {
        // :server 319 me target :@#chan +#other #plain
        if (!n.resync || n.resync.whoisDone || ircLower(params[1] ?? '') !== own) break;
        for (const entry of (params[params.length - 1] ?? '').split(' ')) {
          let name = entry;
          // '&' and '!' are channel types as well as prefixes: strip only while a channel remains.
          while (name.length > 1 && n.symbols.includes(name[0]!) && isChannel(name.slice(1))) name = name.slice(1);
          if (isChannel(name)) n.resync.names.add(ircLower(name));
        }
        break;
      }
      case '318': {
        if (!n.resync || n.resync.whoisDone || ircLower(params[1] ?? '') !== own) break;
        n.resync.whoisDone = true;
        if (n.resync.names.size === 0) { this.finish(n, true); break; }
        this.send(network, [...n.resync.names].map((c) => `NAMES ${c}`));
        break;
      }
    }
  }

  private startResync(network: string, n: NetState, own: string): void {
    const timeout = this.opts.resyncTimeoutMs ?? 5_000;
    n.resync = {
      whoisDone: false,
      names: new Set(),
      // Some networks (the terminal) never answer: then go on with what was seen.
      timer: setTimeout(() => {
        this.opts.log.info({ network }, 'channel membership resync did not finish in time; going on with what is known');
        this.finish(n, true);
      }, timeout),
    };
    this.opts.log.info({ network }, 'resyncing channel membership (WHOIS on our own nick, then NAMES)');
    this.send(network, [`WHOIS ${own}`]);
  }

  private send(network: string, lines: string[]): void {
    this.opts.send(network, lines).catch((err: unknown) => this.opts.log.warn({ err, network }, 'cannot ask the server for channel membership'));
  }

  private finish(n: NetState, ready: boolean): void {
    if (n.resync) clearTimeout(n.resync.timer);
    n.resync = undefined;
    n.ready = ready;
    for (const w of n.waiters.splice(0)) w();
    this.opts.settled?.();
  }

  /**
   * Whether a mention alert can come of some line: it needs a user absent from the channel of the
   * line and present in another channel with the bot, so two channels on one network. Unsure (no
   * network seen yet, or one whose picture is not complete) counts as yes.
   */
  mayMention(): boolean {
    if (this.nets.size === 0) return true;
    for (const n of this.nets.values()) if (!n.ready || n.channels.size >= 2) return true;
    return false;
  }

  /** Resolves once the network's membership is known (at once if it is). */
  whenReady(network: string): Promise<void> {
    const n = this.net(network);
    if (n.ready) return Promise.resolve();
    // Bounded even if no resync could start (a network that never tells the bot's nick).
    return new Promise((resolve) => {
      const t = setTimeout(resolve, (this.opts.resyncTimeoutMs ?? 5_000) * 2);
      n.waiters.push(() => { clearTimeout(t); resolve(); });
    });
  }

  /** The members of a channel the bot is in (folded nick → nick), or undefined. */
  members(network: string, channel: string): ReadonlyMap<string, string> | undefined {
    return this.nets.get(network)?.channels.get(ircLower(channel));
  }

  isMember(network: string, channel: string, nick: string): boolean {
    return this.members(network, channel)?.has(ircLower(nick)) ?? false;
  }

  /** The nick as last seen, if the user is in some channel with the bot. */
  seen(network: string, nick: string): string | undefined {
    const f = ircLower(nick);
    for (const m of this.nets.get(network)?.channels.values() ?? []) {
      const shown = m.get(f);
      if (shown) return shown;
    }
    return undefined;
  }

  /** Stops pending timers. */
  close(): void {
    for (const n of this.nets.values()) this.finish(n, n.ready);
  }
}
