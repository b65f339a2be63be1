/**
 * A Map with a size bound and a lifetime per entry, for what a plugin remembers for a while (the
 * pager's pages, the sanitizer's answered ids). Oldest entries go first when full; expired ones are
 * dropped when read or swept. Insertion order is age order because set() re-inserts. No timers:
 * the caller passes the time.
 */
export class Recent<K, V> {
  private readonly entries = new Map<K, { value: V; expires: number }>();

  constructor(private readonly max: number, private readonly ttlMs: number) {}

  set(key: K, value: V, now: number, ttlMs = this.ttlMs): void {
    this.entries.delete(key);
    this.entries.set(key, { value, expires: now + ttlMs });
    while (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value as K);
  }

  get(key: K, now: number): V | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expires <= now) { this.entries.delete(key); return undefined; }
    return e.value;
  }

  delete(key: K): boolean {
    return this.entries.delete(key);
  }

  /** Drops every expired entry; returns how many. */
  sweep(now: number): number {
    let n = 0;
    for (const [k, e] of this.entries) if (e.expires <= now) { this.entries.delete(k); n++; }
    return n;
  }

  get size(): number {
    return this.entries.size;
  }
}
