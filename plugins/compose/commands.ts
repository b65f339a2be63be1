/**
 * Which commands the aggregator's subtree answers: the Commands property of every node under it
 * (children, and their children through filters), read with the SDK's hive.listCommands('subtree').
 * Kept in memory and read again when the set of children changes, so that deciding whether a
 * message passing down is ours stays synchronous (a message held back while the bus is asked
 * could overtake, or be overtaken by, the next one).
 */
import type { PluginContext } from '../../protocol/sdk/index.js';

/** A miss triggers a new read at most this often. */
const MISS_REFRESH_MS = 1000;

export class SubtreeCommands {
  /** command (lower case) → name of the node that answers it */
  private known = new Map<string, string>();
  private signature: string | undefined;
  private inFlight: Promise<void> | undefined;
  private again = false;
  private lastRead = 0;

  constructor(private readonly hive: PluginContext<unknown>) {}

  has(word: string): boolean { return this.known.has(word.toLowerCase()); }
  owner(word: string): string | undefined { return this.known.get(word.toLowerCase()); }
  get size(): number { return this.known.size; }
  list(): string[] { return [...this.known.keys()].sort(); }

  private childrenSignature(): string {
    return this.hive.children().map((c) => c.unique).sort().join(',');
  }

  /** Whether the children changed since the last read (a restarted child counts: new unique name). */
  changed(): boolean {
    return this.childrenSignature() !== this.signature;
  }

  /** Up to date with the current children (waits for a read if they changed). */
  async current(): Promise<void> {
    if (this.changed()) await this.refresh();
    else if (this.inFlight) await this.inFlight;
  }

  /** After a word was not found: read again, unless that was done a moment ago. */
  async afterMiss(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    if (Date.now() - this.lastRead >= MISS_REFRESH_MS) await this.refresh();
  }

  refresh(): Promise<void> {
    if (this.inFlight) { this.again = true; return this.inFlight; }
    this.inFlight = (async () => {
      try {
        do {
          this.again = false;
          const signature = this.childrenSignature();
          this.known = await this.read();
          this.signature = signature;
          this.lastRead = Date.now();
        } while (this.again);
        this.hive.log.debug({ commands: [...this.known.keys()] }, 'subtree commands');
      } finally {
        this.inFlight = undefined;
      }
    })();
    return this.inFlight;
  }

  private async read(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    // Nearest first: the nearest node wins a name two nodes share, it is the one most likely to answer first.
    for (const { node, commands } of (await this.hive.listCommands('subtree')).nodes) {
      for (const [cmd] of commands) if (!out.has(cmd.toLowerCase())) out.set(cmd.toLowerCase(), node);
    }
    return out;
  }
}
