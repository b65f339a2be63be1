/** A bounded buffer of the messages a node sent down, by network and hive.seq, for Replay. */
import type { WireMessage } from '../codec.js';

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

  /** Messages of `network` with seq > after, oldest first. */
  since(network: string, after: number): Replayed {
    const out: ReplayEntry[] = [];
    for (let i = 0; i < this.size; i++) {
      const e = this.entries[(this.next + i) % this.size];
      if (e && e.network === network && e.seq > after) out.push(e);
    }
    return { wires: out.sort((a, b) => a.seq - b.seq).map((e) => e.wire), complete: (this.evicted.get(network) ?? -1) <= after };
  }
}
