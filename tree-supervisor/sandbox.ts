/**
 * The optional sandbox of one node (docs/security.md): `bwrap` (Debian's bubblewrap, the sandbox
 * under Flatpak) runs the node with the system read-only, its own state directory the only
 * writable place, an empty home and /tmp, no other node's state, the operator's runtime files
 * (the control plane's credential) out of sight, no network unless its config asks for it, in new
 * namespaces, and dying with the supervisor. The node reaches the hive only through its filtered
 * bus socket (tree-supervisor/bus-proxy.ts), whose directory is bound in.
 *
 * `sandboxArgs` is pure: the bwrap arguments to put before the node's command.
 */
import { readFileSync } from 'node:fs';

export interface SandboxSpec {
  /** The node's own state directory: the one writable place. */
  stateDir: string;
  /** Directories to hide behind an empty tmpfs: home, the hive's runtime dir, the state root. */
  hide: string[];
  /** Directories to show again, read-only, inside hidden ones: the program, its cwd, Hive itself. */
  readOnly: string[];
  /** Directories to show again read-write besides the state dir: the proxy socket's. */
  writable: string[];
  /** The node's network: false (default) gives it a network namespace with nothing in it. */
  network?: boolean;
  cwd?: string;
}

export function sandboxArgs(s: SandboxSpec): string[] {
  const args = [
    '--ro-bind', '/', '/',
    '--dev', '/dev',
    '--proc', '/proc',
    '--tmpfs', '/tmp',
    '--unshare-all',
    ...(s.network ? ['--share-net'] : []),
    '--die-with-parent',
    // A new session: a sandboxed program cannot push keystrokes into the operator's terminal (TIOCSTI).
    '--new-session',
  ];
  // Every mount in one order, shorter paths first: a directory shown again inside a hidden one
  // wins, and so does a directory hidden inside a shown one (a cwd that holds the state root).
  // At the same path, hiding comes first and showing wins.
  const clean = (d: string) => (d.length > 1 ? d.replace(/\/+$/, '') : d);
  const mounts: [string, string][] = [
    ...[...new Set(s.hide)].map((d): [string, string] => ['--tmpfs', clean(d)]),
    ...s.readOnly.map((d): [string, string] => ['--ro-bind-try', clean(d)]),
    ...[s.stateDir, ...s.writable].map((d): [string, string] => ['--bind', clean(d)]),
  ];
  for (const [flag, d] of mounts.sort((a, b) => a[1].length - b[1].length)) {
    if (flag === '--tmpfs') args.push(flag, d);
    else args.push(flag, d, d);
  }
  if (s.cwd) args.push('--chdir', s.cwd);
  args.push('--');
  return args;
}

/**
 * The node's own process inside a sandbox started as `bwrap … CMD` at `pid`: bwrap's last
 * descendant (bwrap → its init in the new pid namespace → CMD). Stopping goes there: SIGTERM to
 * bwrap would only end the namespace, killing the node without a chance to save its state.
 * Undefined when there is no descendant (not started yet, or gone).
 */
export function sandboxedProcess(pid: number, children = readChildren): number | undefined {
  let current = pid;
  for (let depth = 0; depth < 4; depth++) {
    const next = children(current)[0];
    if (next === undefined) return current === pid ? undefined : current;
    current = next;
  }
  return current;
}

function readChildren(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
