/** A bounded buffer of the messages a node sent down, by network and hive.seq, for Replay. */
import type { WireMessage } from '../codec.js';
import { LIMITS } from '../limits.js';
import { metaCost } from '../validate.js';

/** An upper estimate of a message's size in a Replay answer (padding counted twice over). */
export function replayBytes(wire: WireMessage): number {
  let n = 16;
  for (const l of wire[0]) n += l.length + 8;
  return n + 2 * metaCost(wire[1], 0, Infinity);
}

export interface ReplayEntry { network: string; seq: number; wire: WireMessage }

export interface Replayed {
  wires: WireMessage[];
  /** False when entries after the asked seq were already evicted: something is lost. */
  complete: boolean;
}

export class ReplayBuffer {
  private readonly entries: (ReplayEntry | undefined)[];
  private next = 0;
  private readonly evicted = new Map<string, number>();

  constructor(readonly size: number) {
    this.entries = new Array(size);
  }

  add(network: string, seq: number, wire: WireMessage): void {
    if (this.size === 0) return;
    const old = this.entries[this.next];
    if (old) this.evicted.set(old.network, Math.max(this.evicted.get(old.network) ?? -1, old.seq));
    this.entries[this.next] = { network, seq, wire };
    this.next = (this.next + 1) % this.size;
  }

  /**
   * Messages of `network` with seq > after, oldest first; at most `maxBytes` of them (replayBytes),
   * the newest kept: the answer must fit in one bus message. Leaving some out makes it incomplete.
   */
  since(network: string, after: number, maxBytes = LIMITS.maxReplayBytes): Replayed {
    const out: ReplayEntry[] = [];
    for (let i = 0; i < this.size; i++) {
      const e = this.entries[(this.next + i) % this.size];
      if (e && e.network === network && e.seq > after) out.push(e);
    }
    out.sort((a, b) => a.seq - b.seq);
    let bytes = 0, first = out.length;
    while (first > 0 && (bytes += replayBytes(out[first - 1]!.wire)) <= maxBytes) first--;
    return { wires: out.slice(first).map((e) => e.wire), complete: first === 0 && (this.evicted.get(network) ?? -1) <= after };
  }
}
