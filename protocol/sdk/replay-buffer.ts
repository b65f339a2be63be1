/** A bounded buffer of the messages a node sent down, by network and hive.seq, for Replay. */
import type { WireMessage } from '../codec.js';

export interface ReplayEntry { network: string; seq: number; wire: WireMessage }

export class ReplayBuffer {
  private readonly entries: (ReplayEntry | undefined)[];
  private next = 0;

  constructor(readonly size: number) {
    this.entries = new Array(size);
  }

  add(network: string, seq: number, wire: WireMessage): void {
    if (this.size === 0) return;
    this.entries[this.next] = { network, seq, wire };
    this.next = (this.next + 1) % this.size;
  }

  /** Messages of `network` with seq > after, oldest first. */
  since(network: string, after: number): WireMessage[] {
    const out: ReplayEntry[] = [];
    for (let i = 0; i < this.size; i++) {
      const e = this.entries[(this.next + i) % this.size];
      if (e && e.network === network && e.seq > after) out.push(e);
    }
    return out.sort((a, b) => a.seq - b.seq).map((e) => e.wire);
  }
}
