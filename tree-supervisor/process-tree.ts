/**
 * Whether one process is another or below it, by /proc's parent links: the supervisor accepts a
 * connection as a node's when the bus says it comes from the node's process or one of its own
 * children (a shell plugin's gdbus). `parentOf` is injectable for tests.
 */
import { readFileSync } from 'node:fs';

/** How far up a chain is followed: deeper than any node's own process tree, bounded. */
const MAX_DEPTH = 32;

export function isProcessUnder(pid: number, ancestor: number, parentOf: (pid: number) => number | undefined = readParent): boolean {
  let at: number | undefined = pid;
  for (let depth = 0; at !== undefined && at > 1 && depth < MAX_DEPTH; depth++) {
    if (at === ancestor) return true;
    at = parentOf(at);
  }
  return false;
}

function readParent(pid: number): number | undefined {
  try {
    // The command name (field 2) may hold spaces and parentheses: the fields after its last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}
