/**
 * The mouth's own answers to CTCP requests (VERSION, PING) from IRC users. Anyone can ask, at any
 * rate, so answering is bounded: per requester (by host, which a nick change does not reset) and
 * overall (SenderLimiter), and the answers go into the outbound queue as their own source with a
 * small share (Outbound's AUTO_SENDER), so they can never crowd out the plugins' replies. A request
 * over the limits is dropped: counted in `dropped` and logged at a limited rate, never queued.
 */
import type { Logger } from 'pino';
import { createLogLimiter } from '../protocol/log-limit.js';
import { OutboundRefused } from './outbound-error.js';
import { createSenderLimiter, type Rate } from './sender-limiter.js';

/** One requester: 2 answers at once, then one per 30 s. */
export const CTCP_PER_SENDER: Rate = { burst: 2, ratePerSec: 1 / 30 };
/** Everybody together: 5 answers at once, then one per 5 s. */
export const CTCP_OVERALL: Rate = { burst: 5, ratePerSec: 1 / 5 };
/** Longest PING token echoed back (characters); a longer one is cut. */
export const CTCP_PING_MAX = 64;

export const CTCP_VERSION = 'Hive bot (https://www.npmjs.com/package/irc-framework)';

/** What irc-framework's 'ctcp request' event gives. */
export interface CtcpRequest { nick: string; ident?: string; hostname?: string; type: string; message: string }

export interface CtcpStats { answered: number; dropped: number }

export interface CtcpResponderOptions {
  /** Queues one answer line as the mouth's automatic source; throws OutboundRefused when over its share. */
  send: (line: Buffer) => void;
  log: Logger;
  perSender?: Rate;
  overall?: Rate;
  now?: () => number;
}

export class CtcpResponder {
  readonly stats: CtcpStats = { answered: 0, dropped: 0 };
  private readonly limiter;
  private readonly logLimit = createLogLimiter({ max: 3 });

  constructor(private readonly o: CtcpResponderOptions) {
    this.limiter = createSenderLimiter({ perSender: o.perSender ?? CTCP_PER_SENDER, overall: o.overall ?? CTCP_OVERALL, now: o.now });
  }

  request(e: CtcpRequest): void {
    const type = String(e.type ?? '').toUpperCase();
    const text = String(e.message ?? '');
    let answer: string | undefined;
    if (type === 'VERSION') answer = `VERSION ${CTCP_VERSION}`;
    // irc-framework gives the text inside the \x01s: "PING <token>"; the token is echoed, cut.
    else if (type === 'PING') answer = text.replace(/[\x00-\x1f]/g, '').slice(0, 'PING '.length + CTCP_PING_MAX);
    // The answer's target is the requester's nick as the server gave it: nothing that would make it
    // several targets (',') or a channel (a hostile server's ':#c,x!u@h PRIVMSG bot :\x01VERSION\x01').
    if (!answer || !e.nick || /[\s\x00-\x1f:,]/.test(e.nick) || '#&+!'.includes(e.nick[0]!)) return;
    const who = (e.hostname || e.nick).toLowerCase();
    if (!this.limiter.take(who)) return this.drop(e, type, 'rate');
    try {
      this.o.send(Buffer.from(`NOTICE ${e.nick} :\x01${answer}\x01`));
      this.stats.answered++;
    } catch (err) {
      if (!(err instanceof OutboundRefused)) throw err;
      this.drop(e, type, err.code);
    }
  }

  private drop(e: CtcpRequest, type: string, why: string): void {
    this.stats.dropped++;
    const suppressed = this.logLimit.take(why);
    if (suppressed === undefined) return;
    this.o.log.warn({ irc: { nick: e.nick, host: e.hostname }, ctcp: type.slice(0, 32), why, dropped: this.stats.dropped, suppressed }, 'CTCP request not answered');
  }
}
