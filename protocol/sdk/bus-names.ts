/**
 * A node's dealings with the bus daemon about names: taking a well-known name over from a stale
 * owner (a previous run that has not gone yet), and the match rules it holds — on NameOwnerChanged
 * of a name it watches (its parent's, its children's) and on the Node1 signals of its parent's
 * unique name only (a child hears its parent, never a sibling). Each rule is added once and
 * removed once, however many parts of the node ask.
 */
import { NODE_INTERFACE, NODE_PATH } from '../names.js';
import { DBUS, addMatch, removeMatch, type MessageBus } from './bus.js';

/** ALLOW_REPLACEMENT | REPLACE_EXISTING | DO_NOT_QUEUE: replace a stale owner, and let the next run replace us. */
const TAKE_OVER = 0x1 | 0x2 | 0x4;
const PRIMARY_OWNER = 1;
const ALREADY_OWNER = 4;

/** Takes `name` as a node takes its own; the daemon's reply, and whether the name is ours now. */
export async function takeName(bus: MessageBus, name: string): Promise<{ owned: boolean; reply: number }> {
  const reply = await bus.requestName(name, TAKE_OVER);
  return { owned: reply === PRIMARY_OWNER || reply === ALREADY_OWNER, reply };
}

/** The match rule for changes of the owner of `name`. */
export function ownerRule(name: string): string {
  return `type='signal',sender='${DBUS.name}',interface='${DBUS.iface}',member='NameOwnerChanged',arg0='${name}'`;
}

/** The match rule for the Node1 signals of the connection `unique` (a parent). */
export function signalRule(unique: string): string {
  return `type='signal',sender='${unique}',path='${NODE_PATH}',interface='${NODE_INTERFACE}'`;
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
