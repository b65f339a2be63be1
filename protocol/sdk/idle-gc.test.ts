// collectWhenIdle on this process's own V8 heap: it gives back what a burst grew the old space
// to once the process is quiet, never while it is busy, and never in a process that did nothing.
import { afterEach, describe, expect, it } from 'vitest';
import { getHeapStatistics } from 'node:v8';
import { collectWhenIdle } from './idle-gc.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let stop: (() => void) | undefined;
afterEach(() => { stop?.(); stop = undefined; });

/** Grows the old space by about `mb` MB of objects that survive a while, then drops them. */
async function burst(mb: number): Promise<void> {
  let keep: unknown[] = [];
  for (let i = 0; i < mb * 8; i++) {
    keep.push(Array.from({ length: 1000 }, (_, j) => ({ i, j, s: `x${j}` })));
    if (i % 16 === 0) await new Promise((r) => setImmediate(r));
  }
  keep = [];
  void keep;
}

describe('collectWhenIdle', () => {
  it('collects once after a burst, when quiet, and the heap is smaller after', async () => {
    const collected: [number, number][] = [];
    const w = collectWhenIdle({ intervalMs: 200, growthBytes: 4 * 1024 * 1024, onCollect: (b, a) => collected.push([b, a]) });
    stop = w.stop;
    expect(w.available).toBe(true);
    await burst(40);
    const grown = getHeapStatistics().total_heap_size;
    for (let i = 0; i < 20 && !collected.length; i++) await sleep(200);
    expect(collected.length).toBe(1);
    const [before, after] = collected[0]!;
    expect(after).toBeLessThan(before);
    expect(getHeapStatistics().total_heap_size).toBeLessThan(grown);
    // Quiet and no new growth: no second collection.
    await sleep(800);
    expect(collected.length).toBe(1);
  });

  it('does not collect while the process is busy, however much the heap grew', async () => {
    const collected: number[] = [];
    stop = collectWhenIdle({ intervalMs: 100, growthBytes: 1024 * 1024, onCollect: (b) => collected.push(b) }).stop;
    // Busy for ~1.5 s, yielding so that the watcher's timer does run meanwhile.
    const keep: unknown[] = [];
    const until = Date.now() + 1500;
    while (Date.now() < until) {
      keep.push(Array.from({ length: 500 }, (_, j) => ({ j })));
      const t = Date.now() + 20;
      while (Date.now() < t) { /* work */ }
      await new Promise((r) => setImmediate(r));
    }
    expect(collected).toEqual([]);
    keep.length = 0;
  });

  it('never collects in a process that does nothing', async () => {
    const collected: number[] = [];
    stop = collectWhenIdle({ intervalMs: 50, onCollect: (b) => collected.push(b) }).stop;
    await sleep(600);
    expect(collected).toEqual([]);
  });
});
