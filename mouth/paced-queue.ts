/**
 * The sending half every network's outbound shares: messages (each a list of items: IRC lines,
 * XMPP stanzas) wait in a fair queue and go out one item per token of the flood bucket, only while
 * the connection is open; a message is never interleaved with another. Counted for `hive tree`.
 * What a network checks before queueing (allow-list, line safety, splitting) stays its own.
 */
import type { Logger } from 'pino';
import type { TokenBucket } from '../protocol/token-bucket.js';
import type { FairQueue } from './fair-queue.js';
import { OUTBOUND_HIVE_ERROR, OutboundRefused, type OutboundRefusedCode } from './outbound-error.js';

export interface OutboundStats {
  queued: number;
  sent: number;
  refused: number;
  /** Refusals by OutboundRefused code. */
  refusedBy: Partial<Record<OutboundRefusedCode, number>>;
}

export interface PacedQueueOptions<T> {
  queue: FairQueue<T[]>;
  bucket: TokenBucket;
  send: (item: T) => void;
  log: Logger;
}

export class PacedQueue<T> {
  readonly queue: FairQueue<T[]>;
  readonly stats: OutboundStats = { queued: 0, sent: 0, refused: 0, refusedBy: {} };
  private current: T[] | undefined;
  private index = 0;
  private timer: NodeJS.Timeout | undefined;
  private open = false;

  constructor(private readonly o: PacedQueueOptions<T>) {
    this.queue = o.queue;
  }

  /** Messages waiting, the one being sent included. */
  get size(): number { return this.queue.size + (this.current ? 1 : 0); }

  /** Queues one message's items (the fair queue may refuse: QueueFull, UserShare) and sends what the bucket allows. */
  push(key: string, items: T[], origin?: string, user?: string): void {
    this.queue.push(key, items, origin, user);
    this.stats.queued++;
    this.pump();
  }

  /** Counts a refusal, so `refused` tells all. */
  count(err: unknown): void {
    this.stats.refused++;
    if (err instanceof OutboundRefused) this.stats.refusedBy[err.code] = (this.stats.refusedBy[err.code] ?? 0) + 1;
  }

  /** The counters for `hive tree`, flat, always the same keys: queued, sent, waiting, refused, refused_<Code>. */
  counters(): Record<string, number> {
    const c: Record<string, number> = { queued: this.stats.queued, sent: this.stats.sent, waiting: this.size, refused: this.stats.refused };
    for (const code of Object.keys(OUTBOUND_HIVE_ERROR) as OutboundRefusedCode[]) {
      if (code !== 'NetworkUnknown') c[`refused_${code}`] = this.stats.refusedBy[code] ?? 0;
    }
    return c;
  }

  /** The connection is ready to send (true) or gone (false). */
  setOpen(open: boolean): void {
    this.open = open;
    if (open) this.pump();
    else if (this.timer) { clearTimeout(this.timer); this.timer = undefined; }
  }

  /** Empties the queue; returns how many messages were still waiting (they are reported, not lost silently). */
  close(): number {
    this.setOpen(false);
    const left = this.queue.clear().length + (this.current ? 1 : 0);
    this.current = undefined;
    if (left) this.o.log.error({ messages: left }, 'outbound messages not sent at shutdown');
    return left;
  }

  private pump(): void {
    if (this.timer) return;
    while (this.open) {
      if (!this.current) {
        const next = this.queue.shift();
        if (!next) return;
        this.current = next.item;
        this.index = 0;
      }
      while (this.index < this.current.length) {
        if (!this.open) return; // sending can close the connection (a write that fails)
        if (!this.o.bucket.take()) {
          this.timer = setTimeout(() => { this.timer = undefined; this.pump(); }, Math.max(1, this.o.bucket.nextAvailableInMs()));
          return;
        }
        this.o.send(this.current[this.index++]!);
        this.stats.sent++;
      }
      this.current = undefined;
    }
  }
}
