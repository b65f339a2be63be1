/** A bounded buffer of the messages a node sent down, by network and hive.seq, for Replay and ReplayRoutes. */
import type { WireMessage } from '../codec.js';
import { LIMITS } from '../limits.js';
import { metaCost } from '../validate.js';
import { matchesAny } from './routes.js';

/**
 * How many (network, route) pairs the buffer remembers the last evicted number of, for
 * ReplayRoutes; past it the oldest pair is folded into its network's floor, which then counts
 * against every route of that network (never too complete, at worst too cautious).
 */
const MAX_EVICTED_ROUTES = 1024;
/** Networks remembered for `wideFrom`; one past it is never complete (see there). */
const MAX_WIDE_NETWORKS = 64;

/** An upper estimate of a message's size in a Replay answer (padding counted twice over). */
export function replayBytes(wire: WireMessage): number {
  let n = 16;
  for (const l of wire[0]) n += l.length + 8;
  return n + 2 * metaCost(wire[1], 0, Infinity);
}

export interface ReplayEntry { network: string; seq: number; route: string; wire: WireMessage }

export interface Replayed {
  wires: WireMessage[];
  /** False when entries after the asked seq were already evicted: something is lost. */
  complete: boolean;
}

export class ReplayBuffer {
  private readonly entries: (ReplayEntry | undefined)[];
  private next = 0;
  private readonly evicted = new Map<string, number>();
  /** Per network then route (`network\nroute`): the last seq evicted; and the floor of what was folded. */
  private readonly evictedRoutes = new Map<string, number>();
  private readonly folded = new Map<string, number>();
  /**
   * A node that took some routes only (routes.ts) has not seen the rest: after it widens, its buffer
   * is complete for a network only from the first number it then took (numbers of one network are
   * consecutive), and a replay reaching back before that says incomplete.
   */
  private narrow = false;
  private everNarrow = false;
  private readonly wideFrom = new Map<string, number>();

  constructor(readonly size: number) {
    this.entries = new Array(size);
  }

  /**
   * Network → the last number passed down, for Attach's answer (a floor for the child's replay):
   * the newest entry of each network in the ring, else its last evicted number. Worked out at
   * Attach, not kept per message; at most MAX_WIDE_NETWORKS networks.
   */
  lastNumbers(): Record<string, bigint> {
    const last = new Map<string, number>();
    for (let i = 1; i <= this.size && last.size < MAX_WIDE_NETWORKS; i++) {
      const e = this.entries[(this.next - i + this.size) % this.size];
      if (e && !last.has(e.network)) last.set(e.network, e.seq);
    }
    for (const [network, seq] of this.evicted) if (!last.has(network) && last.size < MAX_WIDE_NETWORKS) last.set(network, seq);
    return Object.fromEntries([...last].map(([network, seq]) => [network, BigInt(seq)]));
  }

  /** The node takes some routes only (true) or everything (false) from now on. */
  setNarrow(narrow: boolean): void {
    if (narrow && !this.narrow) { this.everNarrow = true; this.wideFrom.clear(); }
    this.narrow = narrow;
  }

  add(network: string, seq: number, wire: WireMessage, route: string): void {
    // A ring of none keeps nothing: what passes is evicted at once (its number still counts).
    if (this.size === 0) { this.evict({ network, seq, route, wire }); return; }
    if (this.everNarrow && !this.narrow && !this.wideFrom.has(network) && this.wideFrom.size < MAX_WIDE_NETWORKS) this.wideFrom.set(network, seq);
    const old = this.entries[this.next];
    if (old) this.evict(old);
    this.entries[this.next] = { network, seq, route, wire };
    this.next = (this.next + 1) % this.size;
  }

  private evict(old: ReplayEntry): void {
    this.evicted.set(old.network, Math.max(this.evicted.get(old.network) ?? -1, old.seq));
    const key = `${old.network}\n${old.route}`;
    const last = this.evictedRoutes.get(key);
    // Delete and set again: the map's order is then least recently evicted first.
    if (last !== undefined) this.evictedRoutes.delete(key);
    this.evictedRoutes.set(key, Math.max(last ?? -1, old.seq));
    if (this.evictedRoutes.size > MAX_EVICTED_ROUTES) {
      const [oldestKey, oldestSeq] = this.evictedRoutes.entries().next().value!;
      this.evictedRoutes.delete(oldestKey);
      const net = oldestKey.slice(0, oldestKey.indexOf('\n'));
      this.folded.set(net, Math.max(this.folded.get(net) ?? -1, oldestSeq));
    }
  }

  /** The highest seq evicted from `network` among the routes matching `patterns` (or folded away). */
  private evictedFor(network: string, patterns: readonly string[]): number {
    let max = this.folded.get(network) ?? -1;
    const prefix = `${network}\n`;
    for (const [key, seq] of this.evictedRoutes) {
      if (seq > max && key.startsWith(prefix) && matchesAny(key.slice(prefix.length), patterns)) max = seq;
    }
    return max;
  }

  /**
   * Messages of `network` with seq > after, oldest first; at most `maxBytes` of them (replayBytes),
   * the newest kept: the answer must fit in one bus message. Leaving some out makes it incomplete.
   */
  since(network: string, after: number, maxBytes = LIMITS.maxReplayBytes): Replayed {
    return this.collect(network, after, undefined, maxBytes);
  }

  /**
   * ReplayRoutes: as `since`, but only the messages whose route matches one of `patterns`
   * (routes.ts), and complete unless one of those was evicted after `after`: a child that wants
   * commands only is not told it lost what it never wanted.
   */
  sinceRoutes(network: string, after: number, patterns: readonly string[], maxBytes = LIMITS.maxReplayBytes): Replayed {
    return this.collect(network, after, patterns, maxBytes);
  }

  private collect(network: string, after: number, patterns: readonly string[] | undefined, maxBytes: number): Replayed {
    const out: ReplayEntry[] = [];
    for (let i = 0; i < this.size; i++) {
      const e = this.entries[(this.next + i) % this.size];
      if (e && e.network === network && e.seq > after && (!patterns || matchesAny(e.route, patterns))) out.push(e);
    }
    out.sort((a, b) => a.seq - b.seq);
    let bytes = 0, first = out.length;
    while (first > 0 && (bytes += replayBytes(out[first - 1]!.wire)) <= maxBytes) first--;
    const evicted = patterns ? this.evictedFor(network, patterns) : (this.evicted.get(network) ?? -1);
    let seenAll = true;
    if (this.everNarrow) {
      const from = this.wideFrom.get(network);
      seenAll = from !== undefined && after >= from - 1;
    }
    return { wires: out.slice(first).map((e) => e.wire), complete: first === 0 && evicted <= after && seenAll };
  }
}
