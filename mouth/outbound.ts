/**
 * The outbound path of one network: every line of a message is checked (injection, allow-list,
 * what it would make others' clients do, length — a long PRIVMSG/NOTICE is split), all or
 * nothing; lookups (WHO, WHOIS, NAMES, …) are rate-limited per sender and overall; the message is
 * queued fairly (by the verified child it came through, then by the origin it claims, then by the
 * IRC user it answers, each user with a small share: see fair-queue.ts), and the
 * lines go out paced by the token bucket, the lines of one message consecutively. The mouth's own
 * automatic answers (CTCP) are a source of their own with a small share. While the network is down
 * the queue holds (bounded); what does not fit is refused, never dropped.
 */
import type { Logger } from 'pino';
import type { IrcLine } from '../protocol/irc-line.js';
import type { AllowList } from './allow-list.js';
import { CtcpResponder } from './ctcp.js';
import { createFairQueue } from './fair-queue.js';
import { checkEffect, parseOutbound } from './line-safety.js';
import { fitLine } from './line-split.js';
import { OutboundRefused } from './outbound-error.js';
import { PacedQueue, type OutboundStats } from './paced-queue.js';
import { createSenderLimiter, type Rate, type SenderLimiter } from './sender-limiter.js';
import type { TokenBucket } from '../protocol/token-bucket.js';

/** The queue's key for the mouth's own automatic answers; no node name can look like it. */
export const AUTO_SENDER = '(auto)';
/** Automatic answers queued at most at once (the rest are dropped by their owner and counted). */
export const AUTO_SHARE = 5;
/** Commands that ask the server about others: what a user can make a plugin do for them. */
export const LOOKUP_COMMANDS: ReadonlySet<string> = new Set(['WHO', 'WHOIS', 'WHOWAS', 'NAMES', 'LIST', 'ISON', 'USERHOST']);
/** Lookups of one sender (verified child): 20 at once, then one per second. */
export const LOOKUPS_PER_SENDER: Rate = { burst: 20, ratePerSec: 1 };
/** Lookups of everyone on one network: 40 at once, then two per second. */
export const LOOKUPS_OVERALL: Rate = { burst: 40, ratePerSec: 2 };

/** Who sends a message: the verified child of the mouth it came through, and the origin it claims. */
export interface Sender {
  via: string;
  origin: string;
  /** The message asked to send CTCP (hive.ctcp); without it only ACTION passes. */
  ctcp?: boolean;
  /** The IRC user (speakerOf) whose line it answers, when the mouth knows; none for automata. */
  user?: string;
}

/** Lines a user sends to the bot or a channel: the ones a plugin's reply answers. */
const SPOKEN: ReadonlySet<string> = new Set(['PRIVMSG', 'NOTICE', 'TAGMSG']);

/**
 * Who spoke a line, from the prefix the network already parsed: `user@host`, lower-cased, so a
 * nick change keeps the same share; undefined for a server, a prefix without user@host, or any
 * other command (JOIN, MODE, numerics…: nobody's command, and a storm of them must not push the
 * speakers of pending commands out of Speakers).
 */
export function speakerOf(p: Pick<IrcLine, 'command' | 'ident' | 'hostname'>): string | undefined {
  if (!SPOKEN.has(p.command) || !p.ident || !p.hostname) return undefined;
  return `${p.ident}@${p.hostname}`.toLowerCase();
}

/** Users' lines (PRIVMSG, NOTICE, TAGMSG) remembered per network, to tell whom a reply answers: the last ones only. */
export const SPEAKERS_MAX = 10_000;

/** hive.id → speaker of the last SPEAKERS_MAX users' lines (oldest forgotten first); O(1). */
export class Speakers {
  private readonly ids = new Map<string, string>();

  constructor(private readonly max = SPEAKERS_MAX) {}

  remember(id: string, speaker: string): void {
    this.ids.set(id, speaker);
    if (this.ids.size > this.max) this.ids.delete(this.ids.keys().next().value!);
  }

  get(id: string): string | undefined {
    return this.ids.get(id);
  }
}

export interface OutboundOptions {
  allowList: AllowList;
  bucket: TokenBucket;
  /** The pool of the queue shared by all senders (queue_max). */
  queueMax: number;
  /** Bytes of the `:nick!user@host ` prefix the server adds when relaying our lines. */
  prefixLength: () => number;
  write: (line: Buffer) => void;
  log: Logger;
  lookups?: { perSender: Rate; overall: Rate };
}

export class Outbound {
  private readonly paced: PacedQueue<Buffer>;
  private readonly lookups: SenderLimiter;
  /** Answers CTCP requests from IRC users, within its limits (the network's 'ctcp request' events). */
  readonly ctcp: CtcpResponder;

  constructor(private readonly o: OutboundOptions) {
    this.paced = new PacedQueue({
      queue: createFairQueue({ maxItems: o.queueMax, limitOf: (s) => (s === AUTO_SENDER ? AUTO_SHARE : undefined) }),
      bucket: o.bucket, send: o.write, log: o.log,
    });
    this.lookups = createSenderLimiter(this.lookupRates);
    this.ctcp = new CtcpResponder({ send: (line) => this.auto(line), log: o.log });
  }

  private get lookupRates(): { perSender: Rate; overall: Rate } {
    return this.o.lookups ?? { perSender: LOOKUPS_PER_SENDER, overall: LOOKUPS_OVERALL };
  }

  get size(): number { return this.paced.size; }

  get stats(): OutboundStats { return this.paced.stats; }

  /** Checks and queues the lines of one message; throws OutboundRefused and queues nothing on any bad line. */
  submit(sender: Sender, lines: Buffer[]): void {
    try {
      const out: Buffer[] = [];
      const prefix = this.o.prefixLength();
      let lookup = false;
      for (const line of lines) {
        const parsed = parseOutbound(line);
        this.o.allowList.check(parsed.command);
        checkEffect(parsed, { ctcp: sender.ctcp });
        if (LOOKUP_COMMANDS.has(parsed.command)) lookup = true;
        for (const part of fitLine(line, prefix)) out.push(part);
      }
      if (out.length === 0) return;
      // The queue's refusal (QueueFull, UserShare) before the rate token is taken, and nothing
      // else can refuse in between: a message refused for any other reason costs no token.
      this.paced.queue.admit(sender.via, sender.user);
      if (lookup && !this.lookups.take(sender.via)) {
        const { perSender, overall } = this.lookupRates;
        throw new OutboundRefused(
          'RateLimited',
          `Too many lookups (WHO, WHOIS, NAMES, …) from ${sender.via} or from everyone on this network; expected at most ${perSender.burst} at once, ` +
            `then ${perSender.ratePerSec} per second per sender (${overall.burst}, then ${overall.ratePerSec} per second overall).`,
        );
      }
      this.paced.push(sender.via, out, sender.origin, sender.user);
    } catch (err) {
      this.paced.count(err);
      throw err;
    }
  }

  /** Queues one automatic answer of the mouth's own (not from a plugin: no allow-list or CTCP check). */
  private auto(line: Buffer): void {
    try {
      parseOutbound(line);
      this.paced.push(AUTO_SENDER, fitLine(line, this.o.prefixLength()));
    } catch (err) {
      this.paced.count(err);
      throw err;
    }
  }

  /** The counters for `hive tree`, flat, always the same keys: queued, sent, waiting, refused, refused_<Code>, ctcp_answered, ctcp_dropped. */
  counters(): Record<string, number> {
    return { ...this.paced.counters(), ctcp_answered: this.ctcp.stats.answered, ctcp_dropped: this.ctcp.stats.dropped };
  }

  /** The connection is registered (true) or gone (false). */
  setOpen(open: boolean): void { this.paced.setOpen(open); }

  /** Empties the queue; returns how many messages were still waiting (they are reported, not lost silently). */
  close(): number { return this.paced.close(); }
}
