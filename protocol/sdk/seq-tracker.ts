/**
 * The last hive.seq a node saw per network, and whether the next one is new
 * (docs/protocol.md#replay-and-sequence-numbers). Pure: no bus, no file, the clock passed in.
 *
 * A number at most `window` below the last is one already seen (the overlap of replay and live
 * traffic). One further below is another numbering — a new mouth whose clock went back, or a last
 * number that was forged — and starts over from it, so a parent whose numbers go backwards never
 * silences the node. A number from the future (beyond the clock plus `futureMs`, in microseconds as
 * the mouth counts) is forged: delivered, neither remembered nor saved. At most `maxNetworks`
 * networks are remembered, so a parent naming ever new networks cannot grow the map.
 */

/** What a number is: new (remembered), seen (drop it), or delivered with something to count and log. */
export type SeqVerdict = 'new' | 'seen' | 'reset' | 'forged' | 'untracked';

export interface SeqTrackerOptions {
  window?: number;
  futureMs?: number;
  maxNetworks?: number;
}

export class SeqTracker {
  private readonly last = new Map<string, number>();
  private readonly window: number;
  private readonly futureMs: number;
  private readonly maxNetworks: number;

  constructor(opts: SeqTrackerOptions = {}) {
    this.window = opts.window ?? 1024;
    this.futureMs = opts.futureMs ?? 10 * 60_000;
    this.maxNetworks = opts.maxNetworks ?? 64;
  }

  /** The highest hive.seq a mouth running on this clock can have given (microseconds). */
  futureLimit(nowMs: number): number { return (nowMs + this.futureMs) * 1000; }

  /** Checks message number `n` of `network`, and remembers it when it is new or starts a new numbering. */
  check(network: string, n: number, nowMs: number): SeqVerdict {
    if (n > this.futureLimit(nowMs)) return 'forged';
    const last = this.last.get(network);
    if (last === undefined && this.last.size >= this.maxNetworks) return 'untracked';
    let verdict: SeqVerdict = 'new';
    if (last !== undefined && n <= last) {
      if (last - n <= this.window) return 'seen';
      verdict = 'reset';
    }
    this.last.set(network, n);
    return verdict;
  }

  /** The last number of `network`, if any. */
  lastOf(network: string): number | undefined { return this.last.get(network); }

  /** The remembered numbers, live: a network added while iterating is visited too. */
  entries(): IterableIterator<[string, number]> { return this.last.entries(); }

  /** What a save writes: network → last number. */
  snapshot(): Record<string, number> { return Object.fromEntries(this.last); }

  /**
   * Takes back what a save wrote; anything that is not a safe non-negative integer is skipped, and
   * a number from the future (saved from a forged message before this check existed, it would make
   * the node deaf) is forgotten and returned so the caller can say so.
   */
  restore(saved: unknown, nowMs: number): { forgotten: [network: string, seq: number][] } {
    const forgotten: [string, number][] = [];
    if (!saved || typeof saved !== 'object' || Array.isArray(saved)) return { forgotten };
    for (const [network, seq] of Object.entries(saved)) {
      if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) continue;
      if (seq > this.futureLimit(nowMs)) { forgotten.push([network, seq]); continue; }
      this.last.set(network, seq);
    }
    return { forgotten };
  }
}
