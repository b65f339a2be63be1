/**
 * The (name, credential) pairs the supervisor vouched for lately, so that a node in vouch mode
 * (credentials.ts) does not ask again for every Attach or Join of the same child. Bounded in size
 * (the oldest goes first) and in time (an entry is trusted for `ttlMs`); only positive answers are
 * kept, so a refusal is always asked again and never pins a credential as bad. Pure: the clock is
 * given.
 */

export interface VouchCacheOptions {
  /** At most this many pairs (default 64): a node has few children, an attacker's variety is not kept. */
  max?: number;
  /** How long a vouched pair is trusted, in ms (default 60 s). */
  ttlMs?: number;
  now?: () => number;
}

export class VouchCache {
  private readonly entries = new Map<string, number>();
  private readonly max: number;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(o: VouchCacheOptions = {}) {
    this.max = Math.max(1, o.max ?? 64);
    this.ttlMs = o.ttlMs ?? 60_000;
    this.now = o.now ?? Date.now;
  }

  get size(): number { return this.entries.size; }

  /** Whether `credential` was vouched for as `name`'s within the last ttlMs. */
  has(name: string, credential: string): boolean {
    const key = keyOf(name, credential);
    const expires = this.entries.get(key);
    if (expires === undefined) return false;
    if (expires <= this.now()) { this.entries.delete(key); return false; }
    return true;
  }

  /** Remembers a pair the supervisor vouched for; the oldest entry goes when full. */
  add(name: string, credential: string): void {
    const key = keyOf(name, credential);
    this.entries.delete(key); // re-inserted last: the newest
    if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(key, this.now() + this.ttlMs);
  }
}

// A node name never holds '\n' (NAME_PATTERN), so the key is unambiguous.
const keyOf = (name: string, credential: string) => `${name}\n${credential}`;
