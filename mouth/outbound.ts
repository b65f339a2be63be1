/**
 * The outbound path of one network: every line of a message is checked (injection, allow-list,
 * length — a long PRIVMSG/NOTICE is split), all or nothing; the message is queued fairly by
 * sender, and the lines go out paced by the token bucket, the lines of one message consecutively.
 * While the network is down the queue holds (bounded); what does not fit is refused, never dropped.
 */
import type { Logger } from 'pino';
import type { AllowList } from './allow-list.js';
import { createFairQueue, type FairQueue } from './fair-queue.js';
import { parseOutbound } from './line-safety.js';
import { fitLine } from './line-split.js';
import type { TokenBucket } from './token-bucket.js';

export interface OutboundOptions {
  allowList: AllowList;
  bucket: TokenBucket;
  queueMax: number;
  /** Bytes of the `:nick!user@host ` prefix the server adds when relaying our lines. */
  prefixLength: () => number;
  write: (line: Buffer) => void;
  log: Logger;
}

export interface OutboundStats { queued: number; sent: number; refused: number }

export class Outbound {
  private readonly queue: FairQueue<Buffer[]>;
  private current: Buffer[] | undefined;
  private index = 0;
  private timer: NodeJS.Timeout | undefined;
  private open = false;
  readonly stats: OutboundStats = { queued: 0, sent: 0, refused: 0 };

  constructor(private readonly o: OutboundOptions) {
    this.queue = createFairQueue({ maxItems: o.queueMax });
  }

  get size(): number { return this.queue.size + (this.current ? 1 : 0); }

  /** Checks and queues the lines of one message; throws OutboundRefused and queues nothing on any bad line. */
  submit(sender: string, lines: Buffer[]): void {
    try {
      const out: Buffer[] = [];
      const prefix = this.o.prefixLength();
      for (const line of lines) {
        const parsed = parseOutbound(line);
        this.o.allowList.check(parsed.command);
        for (const part of fitLine(line, prefix)) out.push(part);
      }
      if (out.length === 0) return;
      this.queue.push(sender, out);
      this.stats.queued++;
    } catch (err) {
      this.stats.refused++;
      throw err;
    }
    this.pump();
  }

  /** The connection is registered (true) or gone (false). */
  setOpen(open: boolean): void {
    this.open = open;
    if (open) this.pump();
    else if (this.timer) { clearTimeout(this.timer); this.timer = undefined; }
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
        if (!this.o.bucket.take()) {
          this.timer = setTimeout(() => { this.timer = undefined; this.pump(); }, Math.max(1, this.o.bucket.nextAvailableInMs()));
          return;
        }
        this.o.write(this.current[this.index++]!);
        this.stats.sent++;
      }
      this.current = undefined;
    }
  }

  /** Empties the queue; returns how many messages were still waiting (they are reported, not lost silently). */
  close(): number {
    this.setOpen(false);
    const left = this.queue.clear().length + (this.current ? 1 : 0);
    this.current = undefined;
    if (left) this.o.log.error({ messages: left }, 'outbound messages not sent at shutdown');
    return left;
  }
}
