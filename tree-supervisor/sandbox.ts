/**
 * The optional sandbox of one node (docs/security.md): `bwrap` (Debian's bubblewrap, the sandbox
 * under Flatpak) runs the node with the system read-only, its own state directory the only
 * writable place, an empty home and /tmp, no other node's state, the operator's runtime files
 * (the control plane's credential) out of sight, no network unless its config asks for it, in new
 * namespaces, and dying with the supervisor. The node reaches the hive only through its filtered
 * bus socket (tree-supervisor/bus-proxy.ts), whose directory is bound in.
 *
 * No unix socket of the user's is in reach outside its own proxy's folder: a read-only bind does
 * not stop connect() on a socket, and --unshare-net does not cover the filesystem's, so the whole
 * $XDG_RUNTIME_DIR, /run/user and the system bus's folders are hidden too (node-isolation.ts
 * names them), and its environment is a minimal one (sandboxEnv): no agent socket, no operator
 * variable (where ${VAR} secrets come from).
 *
 * `sandboxArgs` and `sandboxEnv` are pure.
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
  /** Files to hide (read as empty) where they would be visible: the config file, HIVE_TOKEN_FILE. */
  hideFiles?: string[];
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
  // A file is masked only where it is visible: binding over a path inside a tmpfs would fail.
  for (const f of new Set(s.hideFiles ?? [])) {
    const cover = mounts.filter(([, d]) => f.startsWith(d === '/' ? d : `${d}/`)).sort((a, b) => b[1].length - a[1].length)[0];
    if (cover?.[0] !== '--tmpfs') args.push('--ro-bind', '/dev/null', f);
  }
  if (s.cwd) args.push('--chdir', s.cwd);
  args.push('--');
  return args;
}

/** The variables a sandboxed node keeps from the environment its start built (nodeEnv): the protocol's and these. */
// PYTHONPATH: where a Python node finds Hive's SDK (node-process.ts), read-only inside like the rest of Hive.
const KEPT = ['PATH', 'LANG', 'DBUS_SESSION_BUS_ADDRESS', 'PYTHONPATH'];

/**
 * A sandboxed node's environment: PATH, LANG, the HIVE_* of the protocol (docs/protocol.md#environment)
 * and its bus address, HOME an empty folder; nothing else of the operator's (SSH_AUTH_SOCK,
 * XDG_RUNTIME_DIR, the variables ${VAR} secrets are read from).
 */
export function sandboxEnv(env: Record<string, string>, home = '/tmp'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (k.startsWith('HIVE_') || KEPT.includes(k)) out[k] = v;
  out.HOME = home;
  return out;
}

/**
 * The node's own process inside a sandbox started as `bwrap … CMD` at `pid`: exactly two levels
 * down (bwrap → its init in the new pid namespace → CMD), never further (CMD's own children, a
 * shell plugin's gdbus or sleep, are not the node). Stopping goes there: SIGTERM to bwrap would
 * only end the namespace, killing the node without a chance to save its state. Undefined when
 * CMD is not there (not started yet, or gone).
 */
export function sandboxedProcess(pid: number, children = readChildren): number | undefined {
  const init = children(pid)[0];
  return init === undefined ? undefined : children(init)[0];
}

function readChildren(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
