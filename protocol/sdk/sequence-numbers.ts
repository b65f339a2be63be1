/**
 * A node's memory of its parent's sequence numbers, kept across restarts so that a restarted node
 * can be caught up (docs/protocol.md#replay-and-sequence-numbers): each message from the parent is
 * checked by the SeqTracker, what it says is counted and logged, and the numbers are saved to
 * `<stateDir>/.hive-seq.json` at most every SEQ_SAVE_MS, never on the per-message path. Without a
 * state dir nothing is read or written. `flush()` (on stop) waits for the last write, so nothing
 * writes into a state dir after the node stopped.
 */
import { join } from 'node:path';
import type { WireMessage } from '../codec.js';
import type { NodeContext } from './node-context.js';
import { SeqTracker } from './seq-tracker.js';
import { readJsonFile, writeFileAtomic } from './state-file.js';

const SEQ_SAVE_MS = 100;
/** Networks whose last sequence number a node remembers (and saves); a real hive has a handful. */
const MAX_SEQ_NETWORKS = 64;

export class SequenceNumbers {
  private readonly tracker = new SeqTracker({ maxNetworks: MAX_SEQ_NETWORKS });
  private readonly file: string | undefined;
  private saveTimer: NodeJS.Timeout | undefined;
  private saving: Promise<void> = Promise.resolve();

  constructor(private readonly ctx: NodeContext, stateDir: string | undefined) {
    this.file = stateDir ? join(stateDir, '.hive-seq.json') : undefined;
  }

  /**
   * Per network this node has had no message of: the parent's last number when this node attached
   * (Attach's answer). A narrow node may go long without a message of a network; should its parent
   * die with one of its commands inside, this is where the next parent's replay starts. Not saved.
   */
  private readonly floors = new Map<string, number>();

  /** The last number per network, live (what to ask a new parent to replay after). */
  entries(): IterableIterator<[string, number]> { return this.tracker.entries(); }

  /** Networks this node has no number of but a parent's floor, with that floor (after entries()). */
  floorsWithoutNumber(): [string, number][] {
    return [...this.floors].filter(([network]) => this.tracker.lastOf(network) === undefined);
  }

  /**
   * Takes the parent's last numbers from Attach's answer (`a{st}`; an older parent answers
   * nothing). Checked as saved numbers are: a non-negative safe integer, not from the future; at
   * most MAX_SEQ_NETWORKS networks. Returns how many entries were refused.
   */
  learnFloors(answer: unknown): number {
    if (!answer || typeof answer !== 'object' || Array.isArray(answer)) return 0;
    let refused = 0;
    const limit = this.tracker.futureLimit(Date.now());
    for (const [network, value] of Object.entries(answer)) {
      const n = typeof value === 'bigint' ? Number(value) : NaN;
      if (!Number.isSafeInteger(n) || n < 0 || n > limit || !network || network.length > 256) { refused++; continue; }
      if (!this.floors.has(network) && this.floors.size >= MAX_SEQ_NETWORKS) { refused++; continue; }
      this.floors.set(network, n);
    }
    return refused;
  }

  /** Reads the saved numbers, if any; an unreadable file is logged and ignored. */
  async restore(): Promise<void> {
    const file = this.file;
    if (!file) return;
    const saved = await readJsonFile<unknown>(file, {}, (reason) => this.ctx.log.warn({ file, reason }, 'saved sequence numbers unreadable; starting without them'));
    for (const [network, seq] of this.tracker.restore(saved, Date.now()).forgotten) {
      this.ctx.log.warn({ network, seq }, 'saved hive.seq is from the future; forgotten');
    }
  }

  /** Whether a message from the parent is new; one without hive.seq and hive.network always is. */
  accept(wire: WireMessage): boolean {
    const meta = wire[1];
    const seq = meta['hive.seq'];
    if (!seq) return true;
    const network = meta['hive.network']?.value as string | undefined;
    if (!network) return true;
    const n = Number(seq.value);
    const last = this.tracker.lastOf(network);
    const verdict = this.tracker.check(network, n, Date.now());
    const { counters, refused } = this.ctx;
    switch (verdict) {
      case 'seen': return false;
      case 'forged':
        counters.seq_forged = (counters.seq_forged ?? 0) + 1;
        refused(`seq_forged:${network}`, { network, seq: n }, 'hive.seq from the future: not remembered');
        return true;
      case 'untracked':
        counters.seq_untracked = (counters.seq_untracked ?? 0) + 1;
        refused('seq_untracked', { network }, `hive.seq of more than ${MAX_SEQ_NETWORKS} networks: not remembered`);
        return true;
      case 'reset':
        counters.seq_reset = (counters.seq_reset ?? 0) + 1;
        refused(`seq_reset:${network}`, { network, last, seq: n }, 'hive.seq went back: a new numbering; starting over from it');
        break;
      case 'new': break;
    }
    this.scheduleSave();
    return true;
  }

  /** Writes what is pending now and waits for the last write (stop()). */
  async flush(): Promise<void> {
    if (this.saveTimer) { clearTimeout(this.saveTimer); this.saveTimer = undefined; await this.save(); }
    else await this.saving;
  }

  private scheduleSave(): void {
    if (!this.file || this.saveTimer) return;
    this.saveTimer = setTimeout(() => { this.saveTimer = undefined; void this.save(); }, SEQ_SAVE_MS);
    this.saveTimer.unref();
  }

  /** One save at a time. */
  private save(): Promise<void> {
    const file = this.file;
    if (!file) return Promise.resolve();
    this.saving = this.saving.then(() => writeFileAtomic(file, JSON.stringify(this.tracker.snapshot())))
      .catch((err) => this.ctx.log.warn({ err }, 'cannot save sequence numbers'));
    return this.saving;
  }
}
