/**
 * Which commands the aggregator's subtree answers: the Commands property of every node under it
 * (children, and their children through filters), read over D-Bus like the help plugin does.
 * Kept in memory and read again when the set of children changes, so that deciding whether a
 * message passing down is ours stays synchronous (a message held back while the bus is asked
 * could overtake, or be overtaken by, the next one).
 */
import type { PluginContext } from '../../protocol/sdk/index.js';
import { NODE_INTERFACE, NODE_PATH } from '../../protocol/names.js';
import { callWithDeadline } from '../../protocol/sdk/bus.js';

const PROPERTY_TIMEOUT_MS = 1000;
/** Deeper than any sensible tree; stops a loop if the bus ever showed one. */
const MAX_NODES = 200;
/** A miss triggers a new read at most this often. */
const MISS_REFRESH_MS = 1000;

interface Props { Commands?: { value: [string, string][] }; Children?: { value: [string, string][] } }

export class SubtreeCommands {
  /** command (lower case) → name of the node that answers it */
  private known = new Map<string, string>();
  private signature: string | undefined;
  private inFlight: Promise<void> | undefined;
  private again = false;
  private lastRead = 0;

  constructor(private readonly hive: PluginContext) {}

  has(word: string): boolean { return this.known.has(word.toLowerCase()); }
  owner(word: string): string | undefined { return this.known.get(word.toLowerCase()); }
  get size(): number { return this.known.size; }
  list(): string[] { return [...this.known.keys()].sort(); }

  private childrenSignature(): string {
    return [...this.hive.node.children.keys()].sort().join(',');
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
    const seen = new Set<string>();
    let level = [...this.hive.node.children.values()].map((c) => ({ name: c.name, unique: c.unique }));
    while (level.length && seen.size < MAX_NODES) {
      const next: { name: string; unique: string }[] = [];
      await Promise.all(level.map(async ({ name, unique }) => {
        if (seen.has(unique)) return;
        seen.add(unique);
        try {
          const reply = await callWithDeadline(this.hive.node.bus, {
            destination: unique, path: NODE_PATH, interface: 'org.freedesktop.DBus.Properties', member: 'GetAll', signature: 's', body: [NODE_INTERFACE],
          }, PROPERTY_TIMEOUT_MS);
          const props = reply.body[0] as Props;
          // The nearest node wins a name two nodes share: it is the one most likely to answer first.
          for (const [cmd] of props.Commands?.value ?? []) if (!out.has(cmd.toLowerCase())) out.set(cmd.toLowerCase(), name);
          for (const [childName, childUnique] of props.Children?.value ?? []) next.push({ name: childName, unique: childUnique });
        } catch (err) {
          // A node that serves no properties (a minimal leaf in another language) is still asked; we just cannot know its commands.
          this.hive.log.debug({ err, node: name }, 'node did not tell its commands');
        }
      }));
      level = next;
    }
    return out;
  }
}
