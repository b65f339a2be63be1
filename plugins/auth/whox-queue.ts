/**
 * The auth filter's WHOX lookups, bounded and coalesced: per network at most one `WHO #chan` in
 * flight (the next goes when the server ends the last with 315, or after a timeout), a bounded
 * list of channels waiting, and a channel already waiting or in flight is not queued twice. A
 * storm of JOINs (a bouncer replaying 5,000 channels, a hostile server) so costs one WHO at a time
 * instead of one per channel at once filling the mouth's queue; what does not fit is skipped and
 * counted, and the caller forgets it was asked so that the channel's next speaker asks again.
 */
import { ircLower } from '../../protocol/sdk/index.js';

/** Channels waiting per network at most; past it a request is skipped (counted). */
export const WHOX_PENDING_MAX = 64;
/** How long a WHO may stay unanswered before the next goes (ms). */
export const WHOX_TIMEOUT_MS = 15_000;
/** Pause after a WHO the mouth refused (rate limit, full queue) before the next (ms). */
export const WHOX_RETRY_MS = 5_000;

export interface WhoxStats { sent: number; coalesced: number; skipped: number; failed: number; timedOut: number }

export interface WhoxQueueOptions {
  /** Sends `WHO <channel> …`; rejects when the mouth refused it. */
  send: (network: string, channel: string) => Promise<void>;
  /** A request was skipped (the waiting list is full) or refused by the mouth: the caller forgets it asked. */
  onGiveUp?: (network: string, channel: string) => void;
  pendingMax?: number;
  timeoutMs?: number;
  retryMs?: number;
}

interface NetworkQueue {
  inFlight: string | undefined;
  timer: NodeJS.Timeout | undefined;
  /** folded name → name as given, in order */
  pending: Map<string, string>;
}

export class WhoxQueue {
  readonly stats: WhoxStats = { sent: 0, coalesced: 0, skipped: 0, failed: 0, timedOut: 0 };
  private readonly nets = new Map<string, NetworkQueue>();

  constructor(private readonly o: WhoxQueueOptions) {}

  private net(network: string): NetworkQueue {
    let q = this.nets.get(network);
    if (!q) this.nets.set(network, (q = { inFlight: undefined, timer: undefined, pending: new Map() }));
    return q;
  }

  /** Channels waiting across networks (not counting those in flight). */
  get pending(): number {
    let n = 0;
    for (const q of this.nets.values()) n += q.pending.size;
    return n;
  }

  /** Asks for `channel` on `network` when its turn comes. */
  request(network: string, channel: string): void {
    const q = this.net(network);
    const key = ircLower(channel);
    if (q.inFlight === key || q.pending.has(key)) { this.stats.coalesced++; return; }
    if (q.pending.size >= (this.o.pendingMax ?? WHOX_PENDING_MAX)) {
      this.stats.skipped++;
      this.o.onGiveUp?.(network, channel);
      return;
    }
    q.pending.set(key, channel);
    this.pump(network, q);
  }

  /** The server ended a WHO (315 for `channel`): the next may go. */
  answered(network: string, channel: string): void {
    const q = this.nets.get(network);
    if (!q || q.inFlight !== ircLower(channel)) return;
    this.next(network, q, 0);
  }

  /** A new connection: nothing asked on the old one will be answered. */
  reset(network: string): void {
    const q = this.nets.get(network);
    if (q?.timer) clearTimeout(q.timer);
    this.nets.delete(network);
  }

  stop(): void {
    for (const network of [...this.nets.keys()]) this.reset(network);
  }

  private next(network: string, q: NetworkQueue, delayMs: number): void {
    if (q.timer) clearTimeout(q.timer);
    q.timer = undefined;
    q.inFlight = undefined;
    if (delayMs <= 0) { this.pump(network, q); return; }
    // Hold the slot while pausing, so a request in between does not go at once.
    q.inFlight = '\0pause';
    q.timer = setTimeout(() => { q.timer = undefined; q.inFlight = undefined; this.pump(network, q); }, delayMs);
    q.timer.unref?.();
  }

  private pump(network: string, q: NetworkQueue): void {
    if (q.inFlight !== undefined || this.nets.get(network) !== q) return;
    const first = q.pending.entries().next();
    if (first.done) return;
    const [key, channel] = first.value;
    q.pending.delete(key);
    q.inFlight = key;
    this.stats.sent++;
    q.timer = setTimeout(() => { this.stats.timedOut++; this.next(network, q, 0); }, this.o.timeoutMs ?? WHOX_TIMEOUT_MS);
    q.timer.unref?.();
    this.o.send(network, channel).catch(() => {
      this.stats.failed++;
      this.o.onGiveUp?.(network, channel);
      if (q.inFlight === key) this.next(network, q, this.o.retryMs ?? WHOX_RETRY_MS);
    });
  }
}
