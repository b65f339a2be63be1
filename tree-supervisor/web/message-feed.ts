/**
 * The messages flowing in the tree, for the page's message panel: `hive tap`'s monitor, run while
 * at least one page is connected (started again if its connection drops meanwhile), each message
 * cut to what a panel shows (its lines and metadata bounded) and at most `perSecond` a second
 * passed on; the rest are counted (`skipped`, which the page shows).
 */
import { watchMessages, type MessageWatch, type NodeNames, type TapMessage } from '../cli-tap.js';
import type { RuntimeInfo } from '../runtime-file.js';
import type { Logger } from '../../protocol/logger.js';

const MAX_LINES = 16;
const MAX_LINE_CHARS = 600;
const MAX_META_KEYS = 32;
const MAX_META_CHARS = 200;

export interface PageMessage { time: number; direction: 'up' | 'down'; from: string; to: string; route?: string; lines: string[]; meta: Record<string, string> }

export function forPage(m: TapMessage): PageMessage {
  const lines = m.lines.slice(0, MAX_LINES).map((l) => (l.length > MAX_LINE_CHARS ? `${l.slice(0, MAX_LINE_CHARS)}…` : l));
  if (m.lines.length > MAX_LINES) lines.push(`… ${m.lines.length - MAX_LINES} more lines`);
  const meta: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.meta).slice(0, MAX_META_KEYS)) {
    const s = typeof v === 'string' ? v : JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? Number(x) : x)) ?? String(v);
    meta[k.slice(0, 64)] = s.length > MAX_META_CHARS ? `${s.slice(0, MAX_META_CHARS)}…` : s;
  }
  return { time: m.time, direction: m.direction, from: m.from, to: m.to, ...(m.route !== undefined ? { route: m.route.slice(0, 200) } : {}), lines, meta };
}

export class MessageFeed {
  private users = 0;
  private watch: MessageWatch | undefined;
  private starting = false;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;
  /** Doubles after each failure up to 30 s (a bus that refuses monitors is not asked every second). */
  private delay = 0;
  private sentThisSecond = 0;
  private second = 0;
  /** Messages not passed on (over `perSecond`). */
  skipped = 0;
  /** Times the monitor was started (the first and every restart). */
  starts = 0;

  constructor(private readonly o: {
    info: RuntimeInfo; log: Logger; perSecond: number; each: (m: PageMessage) => void;
    /** The tree's nodes, to name them (the server's shared Tree call). */
    nodes?: NodeNames;
    /** Wait before starting again after the monitor ended or could not start (default 1000 ms, then doubling). */
    retryMs?: number;
    /** The monitor itself (default `hive tap`'s). */
    watcher?: typeof watchMessages;
  }) {}

  /**
   * A page arrived: the monitor runs while at least one is there. Counted, not flagged: a page that
   * leaves while the monitor is still starting cannot stop the one a later page needs.
   */
  acquire(): void {
    this.users++;
    this.ensure();
  }

  release(): void {
    if (this.users === 0) return;
    if (--this.users > 0) return;
    clearTimeout(this.retry);
    this.retry = undefined;
    const w = this.watch;
    this.watch = undefined;
    w?.stop();
  }

  close(): void {
    this.closed = true;
    this.users = 0;
    clearTimeout(this.retry);
    const w = this.watch;
    this.watch = undefined;
    w?.stop();
  }

  get running(): boolean { return this.watch !== undefined; }

  private ensure(): void {
    if (this.closed || this.users === 0 || this.watch || this.starting || this.retry) return;
    this.starting = true;
    this.starts++;
    (this.o.watcher ?? watchMessages)(this.o.info, (m) => this.take(m), this.o.nodes).then((w) => {
      this.starting = false;
      // Every page left while it started: not needed any more.
      if (this.closed || this.users === 0) { w.stop(); return; }
      this.watch = w;
      this.delay = 0;
      void w.closed.then(() => {
        if (this.watch !== w) return; // stopped by release()
        this.watch = undefined;
        this.o.log.warn('the message monitor ended while pages are open; starting it again');
        this.later();
      });
    }, (err: unknown) => {
      this.starting = false;
      this.o.log.warn({ err }, 'cannot watch the messages; trying again');
      this.later();
    });
  }

  private later(): void {
    if (this.closed || this.users === 0 || this.retry) return;
    this.delay = this.delay ? Math.min(this.delay * 2, 30_000) : this.o.retryMs ?? 1000;
    this.retry = setTimeout(() => { this.retry = undefined; this.ensure(); }, this.delay);
  }

  private take(m: TapMessage): void {
    const s = Math.floor(Date.now() / 1000);
    if (s !== this.second) {
      this.second = s;
      this.sentThisSecond = 0;
    }
    if (++this.sentThisSecond > this.o.perSecond) { this.skipped++; return; }
    this.o.each(forPage(m));
  }
}
