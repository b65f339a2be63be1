/**
 * Giving memory back after a burst (issue 17). V8 keeps the heap a burst grew to: measured on the
 * ten-plugin hive, every plugin held 40–60 MB more after 3 × 5,000 messages, and 15 s later not a
 * page less (V8's own memory reducer did not run, or did not shrink it). One full collection once
 * the process is quiet again brings a plugin back near its idle size.
 *
 * Cheap by construction: a timer (unref'd: it never keeps a process alive) reads the heap's size
 * and the event loop's utilisation once a second; it collects only when the heap has grown by
 * GROWTH_BYTES since the last collection AND the last second was quiet (so never in the middle of
 * a burst, where a full collection would cost throughput). A process that does nothing never
 * collects; one that works steadily is left to V8.
 *
 * Then once more, SETTLE_MS later if every second since was quiet: that second collection is the
 * one that gives back the young generation. V8 shrinks its semi-spaces (16 MB each at node's
 * default, grown by any burst) only in a full collection that finds the allocation rate over its
 * last 5 s of collections low (Heap::ReduceNewSpaceSize, < 1 KB/ms); the first collection, a
 * second after the burst, still sees the burst's rate. Measured in the ten-plugin hive
 * (scripts/bench/mem-probe.ts), 10 s after the bench's traffic: the mouth (node's default young
 * generation) 87.7 MB PSS with one collection, 49–58 MB with the second (its semi-spaces back from
 * 16 MB to 1). In a lone process, one collection 6 s after a burst: new space 32 → 1 MB; at 1 s:
 * 32 MB kept.
 */
import { performance } from 'node:perf_hooks';
import { setFlagsFromString, getHeapStatistics } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface IdleGcOptions {
  /** How often the heap is looked at (ms). */
  intervalMs?: number;
  /** Growth of the committed heap since the last collection that is worth one (bytes). */
  growthBytes?: number;
  /** Event-loop utilisation below which the last interval counts as quiet (0–1). */
  quietBelow?: number;
  /** Quiet time after a collection before the second one that shrinks the young generation (ms); 0: none. */
  settleMs?: number;
  /**
   * Owe one collection from the start too, after the same quiet spell: start-up's garbage given
   * back at a known time (a few seconds after the start), not whenever V8's memory reducer runs
   * (measured in the ten-plugin hive 10 s after start: half the plugins at 13 MB PSS, half still at 17).
   */
  afterStart?: boolean;
  /** Called after each collection, with the heap's committed size before and after (bytes). */
  onCollect?: (before: number, after: number) => void;
}

export const IDLE_GC_DEFAULTS = { intervalMs: 1000, growthBytes: 8 * 1024 * 1024, quietBelow: 0.05, settleMs: 6000 } as const;

/** V8's gc(): the global one if node was started with --expose-gc, else exposed now (a V8 flag takes effect for contexts made after it). */
function gcFunction(): (() => void) | undefined {
  const g = (globalThis as { gc?: () => void }).gc;
  if (typeof g === 'function') return g;
  try {
    setFlagsFromString('--expose-gc');
    const f = runInNewContext('gc') as unknown;
    return typeof f === 'function' ? (f as () => void) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts the watcher; returns a function that stops it. Does nothing (and says so) where gc() cannot
 * be had, or with HIVE_IDLE_GC=0 (leave it to V8: to measure what the watcher buys).
 */
export function collectWhenIdle(opts: IdleGcOptions = {}): { stop(): void; available: boolean } {
  const { intervalMs, growthBytes, quietBelow, settleMs } = { ...IDLE_GC_DEFAULTS, ...opts };
  const gc = process.env.HIVE_IDLE_GC === '0' ? undefined : gcFunction();
  if (!gc) return { stop() { /* nothing started */ }, available: false };
  let base = getHeapStatistics().total_heap_size;
  let elu = performance.eventLoopUtilization();
  // Quiet time since our last collection (or the start, with afterStart), while one is owed
  // (undefined: none owed).
  let settledMs: number | undefined = opts.afterStart && settleMs > 0 ? 0 : undefined;
  const collect = (size: number) => {
    // Twice: the second finds what the first's finalizers and weak references let go of.
    gc();
    gc();
    base = getHeapStatistics().total_heap_size;
    opts.onCollect?.(size, base);
  };
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const quiet = performance.eventLoopUtilization(now, elu).utilization < quietBelow;
    elu = now;
    const size = getHeapStatistics().total_heap_size;
    // A heap that shrank by itself (V8's memory reducer) is the new base.
    if (size < base) base = size;
    if (!quiet) {
      // Work again: V8's rate window fills with it; wait for a longer quiet spell.
      if (settledMs !== undefined) settledMs = 0;
      return;
    }
    if (size - base >= growthBytes) {
      collect(size);
      settledMs = settleMs > 0 ? 0 : undefined;
      return;
    }
    if (settledMs === undefined) return;
    settledMs += intervalMs;
    if (settledMs < settleMs) return;
    settledMs = undefined;
    collect(size);
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer), available: true };
}
