/**
 * The messages flowing in the tree, for the page's message panel: `hive tap`'s monitor, run only
 * while a page is connected, each message cut to what a panel shows (its lines and metadata bounded)
 * and at most `perSecond` a second passed on; the rest are counted (`skipped`, which the page shows).
 */
import { watchMessages, type MessageWatch, type TapMessage } from '../cli-tap.js';
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
  private watch: MessageWatch | undefined;
  private starting: Promise<void> | undefined;
  private sentThisSecond = 0;
  private second = 0;
  /** Messages not passed on (over `perSecond`). */
  skipped = 0;

  constructor(private readonly o: { info: RuntimeInfo; log: Logger; perSecond: number; each: (m: PageMessage) => void}) {}

  /** Starts the monitor unless it runs; a failure is logged, and the page goes on without messages. */
  start(): void {
    if (this.watch || this.starting) return;
    this.starting = watchMessages(this.o.info, (m) => this.take(m)).then((w) => {
      this.starting = undefined;
      this.watch = w;
      void w.closed.then(() => { if (this.watch === w) this.watch = undefined; });
    }, (err: unknown) => {
      this.starting = undefined;
      this.o.log.warn({ err }, 'cannot watch the messages; the page shows none');
    });
  }

  async stop(): Promise<void> {
    await this.starting;
    this.watch?.stop();
    this.watch = undefined;
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
