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
  /** Called after each collection, with the heap's committed size before and after (bytes). */
  onCollect?: (before: number, after: number) => void;
}

export const IDLE_GC_DEFAULTS = { intervalMs: 1000, growthBytes: 8 * 1024 * 1024, quietBelow: 0.05 } as const;

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
  const { intervalMs, growthBytes, quietBelow } = { ...IDLE_GC_DEFAULTS, ...opts };
  const gc = process.env.HIVE_IDLE_GC === '0' ? undefined : gcFunction();
  if (!gc) return { stop() { /* nothing started */ }, available: false };
  let base = getHeapStatistics().total_heap_size;
  let elu = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const quiet = performance.eventLoopUtilization(now, elu).utilization < quietBelow;
    elu = now;
    const size = getHeapStatistics().total_heap_size;
    // A heap that shrank by itself (V8's memory reducer) is the new base.
    if (size < base) base = size;
    if (!quiet || size - base < growthBytes) return;
    gc();
    base = getHeapStatistics().total_heap_size;
    opts.onCollect?.(size, base);
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer), available: true };
}
