/**
 * A node's dealings with the bus daemon about names: taking its own well-known name so that no
 * other connection can take it while it lives, holding the name of a child without a connection
 * (connectionless.ts) so that the child's next parent can take it over, and the match rules it
 * holds — on NameOwnerChanged of a name it watches (its parent's, its children's) and on the Node1
 * signals of its parent's unique name only (a child hears its parent, never a sibling; routes.ts).
 * Each rule is added once and removed once, however many parts of the node ask.
 */
import { DBUS, addMatch, removeMatch, type MessageBus } from './bus.js';

/**
 * REPLACE_EXISTING | DO_NOT_QUEUE, without ALLOW_REPLACEMENT: a node's own name cannot be taken
 * from it while it lives (docs/protocol.md#bus-names); it replaces only an owner that allowed it.
 */
export const OWN_NAME_FLAGS = 0x2 | 0x4;
/** ALLOW_REPLACEMENT | REPLACE_EXISTING | DO_NOT_QUEUE: a child's name held for it, which its next parent takes over. */
export const HELD_NAME_FLAGS = 0x1 | 0x2 | 0x4;
const PRIMARY_OWNER = 1;
const EXISTS = 3;
const ALREADY_OWNER = 4;
/** How long a node waits for the last run of itself to leave the bus (its socket closed, not yet handled by the daemon). */
const OWN_NAME_WAIT_MS = 2000;
const OWN_NAME_RETRY_MS = 100;

const owned = (reply: number) => reply === PRIMARY_OWNER || reply === ALREADY_OWNER;

/** Takes `name` for a child without a connection, replacing its last holder, and lets its next one take it. */
export async function takeName(bus: MessageBus, name: string): Promise<{ owned: boolean; reply: number }> {
  const reply = await bus.requestName(name, HELD_NAME_FLAGS);
  return { owned: owned(reply), reply };
}

/**
 * Takes `name` as a node's own, which no other connection can take while this one lives. A live
 * owner that did not allow replacement keeps it: a last run of this node that is going away is
 * waited for up to `waitMs`; after that, not owned (the reply is EXISTS).
 */
export async function takeOwnName(bus: MessageBus, name: string, waitMs = OWN_NAME_WAIT_MS): Promise<{ owned: boolean; reply: number }> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const reply = await bus.requestName(name, OWN_NAME_FLAGS);
    if (reply !== EXISTS || Date.now() >= deadline) return { owned: owned(reply), reply };
    await new Promise((r) => setTimeout(r, OWN_NAME_RETRY_MS));
  }
}

/** The match rule for changes of the owner of `name`. */
export function ownerRule(name: string): string {
  return `type='signal',sender='${DBUS.name}',interface='${DBUS.iface}',member='NameOwnerChanged',arg0='${name}'`;
}

/** The match rules a node holds, each once. */
export class MatchRules {
  private readonly rules = new Set<string>();

  constructor(private readonly bus: () => MessageBus) {}

  async add(rule: string): Promise<void> {
    if (this.rules.has(rule)) return;
    this.rules.add(rule);
    await addMatch(this.bus(), rule);
  }

  async drop(rule: string): Promise<void> {
    if (!this.rules.delete(rule)) return;
    await removeMatch(this.bus(), rule);
  }

  has(rule: string): boolean { return this.rules.has(rule); }
}
