/**
 * What `help` takes from another node's Commands property: any process on the bus can own a node
 * name and publish anything there, and one entry with a CR/LF would break `!help` for everyone.
 * So each entry is checked on its own (a pair of strings, bounded, without control characters);
 * bad entries are skipped and counted, the node's good ones are still listed.
 */
import { z } from 'zod';

export const HELP_LIMITS = {
  /** Nodes asked for their commands per `!help`; the rest are skipped (counted). */
  maxNodes: 256,
  /** Entries taken from one node; the rest are skipped (counted). */
  maxCommandsPerNode: 64,
  /** Characters of a command name ("note add"). */
  maxNameChars: 64,
  /** Characters of a help line. */
  maxHelpChars: 300,
} as const;

/** C0 controls (CR, LF, NUL, IRC formatting), DEL and C1 controls. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

const nameSchema = z.string().min(1).max(HELP_LIMITS.maxNameChars).refine((s) => !CONTROL.test(s) && s.trim() === s);
const helpSchema = z.string().min(1).max(HELP_LIMITS.maxHelpChars).refine((s) => !CONTROL.test(s));
const entrySchema = z.tuple([nameSchema, helpSchema]);

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
    const r = entrySchema.safeParse(entry);
    if (!r.success || commands.length >= HELP_LIMITS.maxCommandsPerNode) { refused++; continue; }
    commands.push(r.data);
  }
  return { commands, refused };
}
