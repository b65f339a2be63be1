/**
 * The commands other nodes answer, read from their Commands property (docs/protocol.md#properties):
 * of every node of the hive (`help`) or of the nodes under this one, children and their children
 * through filters (an aggregator such as `compose`).
 *
 * What other nodes publish is not trusted: any process on the bus can own a node name and publish
 * anything there, and one entry with a CR/LF would break `!help` for everyone. So each entry is
 * checked on its own (a pair of strings, bounded, without control characters); bad entries are
 * skipped and counted, a node's good ones are still listed. At most `maxNodes` nodes are asked.
 */
import { NODE_INTERFACE, NODE_PATH } from '../names.js';
import { callBus, callWithDeadline, type MessageBus } from './bus.js';

export const HELP_LIMITS = {
  /** Nodes asked for their commands per read; the rest are skipped (counted). */
  maxNodes: 256,
  /** Entries taken from one node; the rest are skipped (counted). */
  maxCommandsPerNode: 64,
  /** Characters of a command name ("note add"). */
  maxNameChars: 64,
  /** Characters of a help line. */
  maxHelpChars: 300,
} as const;

/** How long one node is given to answer. */
const PROPERTY_TIMEOUT_MS = 1000;

/** C0 controls (CR, LF, NUL, IRC formatting), DEL and C1 controls. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

// Plain predicates, not zod: this module is in every plugin process, and zod would cost each one
// ~4 MB of heap for two tuple checks (docs/performance.md).
const text = (v: unknown, max: number): v is string => typeof v === 'string' && v.length >= 1 && v.length <= max && !CONTROL.test(v);
const isEntry = (e: unknown): e is [string, string] =>
  Array.isArray(e) && e.length === 2 && text(e[0], HELP_LIMITS.maxNameChars) && e[0].trim() === e[0] && text(e[1], HELP_LIMITS.maxHelpChars);
const isChild = (c: unknown): c is [string, string] =>
  Array.isArray(c) && c.length === 2 && typeof c[0] === 'string' && c[0].length <= 255 && typeof c[1] === 'string' && c[1].length <= 255;

export interface CheckedCommands {
  commands: [string, string][];
  /** Entries skipped: malformed, too long, with control characters, or past maxCommandsPerNode. */
  refused: number;
}

/** The usable entries of a Commands value as it came off the bus (any shape). */
export function checkCommands(value: unknown): CheckedCommands {
  if (!Array.isArray(value)) return { commands: [], refused: 1 };
  const commands: [string, string][] = [];
  let refused = 0;
  for (const entry of value) {
    if (!isEntry(entry) || commands.length >= HELP_LIMITS.maxCommandsPerNode) { refused++; continue; }
    commands.push([entry[0], entry[1]]);
  }
  return { commands, refused };
}

/** One node's answer: its usable commands and how many entries were refused. */
export interface NodeCommands extends CheckedCommands {
  node: string;
}

export interface TreeCommands {
  /** The nodes that answered, nearest first for a subtree, by name for the hive. */
  nodes: NodeCommands[];
  /** Nodes not asked (past maxNodes). */
  skipped: number;
}

/** Where the nodes are: the bus, and how to tell a problem worth a debug line. */
export interface TreeReader {
  bus: MessageBus;
  debug: (fields: Record<string, unknown>, msg: string) => void;
}

const getProperty = (r: TreeReader, destination: string, member: 'Get' | 'GetAll', body: string[]) =>
  callWithDeadline(r.bus, { destination, path: NODE_PATH, interface: 'org.freedesktop.DBus.Properties', member, signature: member === 'Get' ? 'ss' : 's', body }, PROPERTY_TIMEOUT_MS);

/** Every node of the hive whose bus names start with `prefix` (org.hive.<instance>.), but the supervisor. */
export async function hiveCommands(r: TreeReader, prefix: string): Promise<TreeCommands> {
  const all = ((await callBus(r.bus, 'ListNames', '', [])).body[0] as string[]).filter((n) => n.startsWith(prefix) && !n.endsWith('.Supervisor')).sort();
  const names = all.slice(0, HELP_LIMITS.maxNodes);
  const answers = await Promise.all(names.map(async (busName): Promise<NodeCommands | undefined> => {
    let value: unknown;
    try {
      const reply = await getProperty(r, busName, 'Get', [NODE_INTERFACE, 'Commands']);
      value = (reply.body[0] as { value?: unknown } | undefined)?.value;
    } catch (err) {
      r.debug({ err, busName }, 'node did not answer for its commands');
      return undefined;
    }
    return { node: busName.slice(prefix.length), ...checkCommands(value) };
  }));
  return { nodes: answers.filter((a): a is NodeCommands => a !== undefined), skipped: all.length - names.length };
}

/** The nodes under this one, level by level from `children` (name and unique bus name). */
export async function subtreeCommands(r: TreeReader, children: { name: string; unique: string }[]): Promise<TreeCommands> {
  const nodes: NodeCommands[] = [];
  const seen = new Set<string>();
  let skipped = 0;
  let level = children;
  while (level.length) {
    const next: { name: string; unique: string }[] = [];
    const fresh = level.filter((c) => !seen.has(c.unique) && (seen.add(c.unique), true));
    const asked = fresh.slice(0, Math.max(0, HELP_LIMITS.maxNodes - (seen.size - fresh.length)));
    skipped += fresh.length - asked.length;
    const answers = await Promise.all(asked.map(async ({ name, unique }): Promise<NodeCommands | undefined> => {
      try {
        const props = (await getProperty(r, unique, 'GetAll', [NODE_INTERFACE])).body[0] as { Commands?: { value?: unknown }; Children?: { value?: unknown } };
        const kids = props?.Children?.value;
        // A loop the bus showed (a node naming an ancestor) ends at `seen`.
        if (Array.isArray(kids)) for (const k of kids) { if (isChild(k)) next.push({ name: k[0], unique: k[1] }); }
        return { node: name, ...checkCommands(props?.Commands?.value ?? []) };
      } catch (err) {
        // A node that serves no properties (a minimal leaf in another language) is still asked; we just cannot know its commands.
        r.debug({ err, node: name }, 'node did not tell its commands');
        return undefined;
      }
    }));
    for (const a of answers) if (a) nodes.push(a);
    level = next;
  }
  return { nodes, skipped };
}
