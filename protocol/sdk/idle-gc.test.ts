// collectWhenIdle on this process's own V8 heap: it gives back what a burst grew the old space
// to once the process is quiet, never while it is busy, and never in a process that did nothing.
// Then in real node processes with node's default young generation: the second collection, after
// a quiet spell, is what gives a grown young generation back.
import { afterEach, describe, expect, it } from 'vitest';
import { getHeapStatistics } from 'node:v8';
import { join } from 'node:path';
import { execa } from 'execa';
import { DIST } from '../../test/helpers/paths.js';
import { waitFor } from '../../test/helpers/wait.js';
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
    // quietBelow 0.25: inside a vitest worker on a loaded machine an idle tick may take more than
    // the default 5 % of the interval. Waited for, not given a fixed 4 s: a quiet tick may come late.
    const w = collectWhenIdle({ intervalMs: 200, growthBytes: 4 * 1024 * 1024, quietBelow: 0.25, onCollect: (b, a) => collected.push([b, a]) });
    stop = w.stop;
    expect(w.available).toBe(true);
    await burst(40);
    const grown = getHeapStatistics().total_heap_size;
    await waitFor(() => collected.length > 0, { timeout: 20_000, interval: 50, what: 'a collection after the burst' });
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
    stop = collectWhenIdle({ intervalMs: 50, settleMs: 300, onCollect: (b) => collected.push(b) }).stop;
    await sleep(800);
    expect(collected).toEqual([]);
  });
});

const IDLE_GC = join(DIST, 'protocol/sdk/idle-gc.js');

/**
 * A child that allocates short-lived objects for `burstMs` (its young generation grows to its
 * maximum), then idles for `idleMs`, and prints JSON lines: each collection (time since start,
 * new space before and after) and its new space at the end of the burst and at the end.
 * With `until`, it ends `until.thenMs` after its `until.collections`-th collection, or at `idleMs`
 * if that comes first (then a generous deadline, not a guess at how long quiet takes to come).
 */
const child = (opts: string, burstMs: number, idleMs: number, until?: { collections: number; thenMs: number }) => `
import { getHeapSpaceStatistics } from 'node:v8';
import { collectWhenIdle } from ${JSON.stringify(IDLE_GC)};
const t0 = Date.now();
const newSpace = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
const say = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
let collections = 0;
let ended = false;
let endTimer;
const finish = () => { if (ended) return; ended = true; clearTimeout(endTimer); say({ end: Date.now() - t0, new_space: newSpace() }); w.stop(); };
const w = collectWhenIdle({ ...${opts}, onCollect: () => {
  say({ collected: Date.now() - t0, new_space: newSpace() });
  if (${until ? until.collections : 0} > 0 && ++collections === ${until ? until.collections : 0}) setTimeout(finish, ${until ? until.thenMs : 0});
} });
let keep = [];
const until = Date.now() + ${burstMs};
// In slices, so that the watcher's timer runs (and sees a busy loop) during the burst.
const slice = () => {
  for (let i = 0; i < 2000; i++) keep.push({ a: i, b: 'x' + i, c: [i, i] });
  if (keep.length > 100000) keep = [];
  if (Date.now() < until) { setImmediate(slice); return; }
  keep = [];
  say({ burst_end: Date.now() - t0, new_space: newSpace() });
  endTimer = setTimeout(finish, ${idleMs});
};
slice();
`;

async function run(opts: string, burstMs: number, idleMs: number, env: Record<string, string> = {}, until?: { collections: number; thenMs: number }) {
  const r = await execa(process.execPath, ['--input-type=module', '-e', child(opts, burstMs, idleMs, until)], { env, timeout: 40_000 });
  const lines = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { collected?: number; burst_end?: number; end?: number; new_space: number });
  return {
    collections: lines.filter((l) => l.collected !== undefined),
    burstEnd: lines.find((l) => l.burst_end !== undefined)!,
    end: lines.find((l) => l.end !== undefined)!,
  };
}

const MB = 1024 * 1024;

describe('collectWhenIdle in a node process with node\'s default young generation', () => {
  it('collects only once quiet after a burst, and a second time after a quiet spell, which gives the grown young generation back', async () => {
    // settleMs 5500: V8 shrinks its semi-spaces only when its last 5 s of collections saw little
    // allocation. quietBelow 0.25: on a loaded machine a tick itself may take 5 ms of 100.
    // It ends 500 ms after the second collection (a third would show there), or 20 s after the burst:
    // 55 quiet ticks in a row may take far longer than 5.5 s on a loaded machine (a busy tick starts
    // the count again). The spacing is still asserted below.
    const { collections, burstEnd, end } = await run('{ intervalMs: 100, settleMs: 5500, quietBelow: 0.25 }', 1200, 20_000, {}, { collections: 2, thenMs: 500 });
    expect(burstEnd.new_space).toBeGreaterThanOrEqual(8 * MB);
    // None during the burst.
    expect(collections.every((c) => c.collected! > burstEnd.burst_end!)).toBe(true);
    expect(collections).toHaveLength(2);
    // The first, soon after the burst, cannot shrink the young generation; the second does.
    expect(collections[0]!.collected! - burstEnd.burst_end!).toBeLessThan(1500);
    expect(collections[0]!.new_space).toBeGreaterThanOrEqual(8 * MB);
    expect(collections[1]!.collected! - collections[0]!.collected!).toBeGreaterThanOrEqual(5500);
    expect(collections[1]!.new_space).toBeLessThanOrEqual(2 * MB);
    expect(end.new_space).toBeLessThanOrEqual(2 * MB);
  }, 45_000);

  it('with settleMs 0 collects once after a burst, and the young generation stays grown', async () => {
    // It ends 1.5 s after its first collection (a second would show there), or 20 s after the burst.
    const { collections, burstEnd, end } = await run('{ intervalMs: 100, settleMs: 0, quietBelow: 0.25 }', 1200, 20_000, {}, { collections: 1, thenMs: 1500 });
    expect(collections).toHaveLength(1);
    expect(collections[0]!.collected!).toBeGreaterThan(burstEnd.burst_end!);
    expect(end.new_space).toBeGreaterThanOrEqual(8 * MB);
  });

  it('does nothing with HIVE_IDLE_GC=0', async () => {
    const { collections, end } = await run('{ intervalMs: 100, settleMs: 300 }', 800, 1500, { HIVE_IDLE_GC: '0' });
    expect(collections).toHaveLength(0);
    expect(end.new_space).toBeGreaterThanOrEqual(8 * MB);
    const saved = process.env.HIVE_IDLE_GC;
    process.env.HIVE_IDLE_GC = '0';
    try {
      expect(collectWhenIdle().available).toBe(false);
    } finally {
      if (saved === undefined) delete process.env.HIVE_IDLE_GC; else process.env.HIVE_IDLE_GC = saved;
    }
  });
});

describe('collectWhenIdle with afterStart', () => {
  it('collects once after the first quiet spell from the start, then only after growth', async () => {
    const collected: [number, number][] = [];
    // quietBelow 0.25 and waited for, as above: three quiet ticks in a row may come late on a loaded machine.
    const w = collectWhenIdle({ intervalMs: 100, settleMs: 300, quietBelow: 0.25, afterStart: true, onCollect: (b, a) => collected.push([b, a]) });
    stop = w.stop;
    await waitFor(() => collected.length > 0, { timeout: 20_000, interval: 50, what: 'the collection after the start' });
    expect(collected.length).toBe(1);
    await sleep(800);
    expect(collected.length).toBe(1);
  });
});
