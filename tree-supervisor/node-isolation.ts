/**
 * Putting a node at its trust level when it is started (docs/security.md): a filtered or
 * sandboxed node gets its own xdg-dbus-proxy (bus-proxy.ts), whose socket is in its own folder of
 * the runtime dir, `<runtime>/<instance>.nodes/<node>/bus.sock`, and whose address it gets instead
 * of the bus's; a sandboxed node's command is put under bwrap (sandbox.ts) with home, the runtime
 * dir, the whole $XDG_RUNTIME_DIR, /run/user, the system bus's folders and the state root hidden,
 * the config file and HIVE_TOKEN_FILE masked, its program's folders, its cwd and Hive itself shown
 * read-only, and only its own state dir and socket folder writable (its environment: sandboxEnv). A remote node's proxy lives at the same
 * place for the hive's life (remote-node.ts); a local node's proxy lives and dies with its process.
 */
import { existsSync, realpathSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBusProxy, type BusProxy } from './bus-proxy.js';
import { sandboxArgs } from './sandbox.js';
import { ancestorsOf, type SandboxSettings, type Trust } from './trust.js';
import { descendants, type Tree } from './reparent.js';
import which from './which.js';

/** Hive's own files (dist/ and node_modules/): a sandboxed built-in runs from there. */
const PACKAGE_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Isolated {
  /** The address the node connects to. */
  busAddress: string;
  /** Its command, under bwrap when sandboxed. */
  command: string[];
  proxy: BusProxy | undefined;
}

/** The folder of a node's proxy socket: the one place of the runtime dir it may see. */
export function nodeSocketDir(runtimeDir: string, instance: string, node: string): string {
  return join(runtimeDir, `${instance}.nodes`, node);
}

/**
 * Where every unix socket of the user's and of the system's bus lives, and systemd's (its notify
 * socket: under NotifyAccess=all systemd takes READY=1, WATCHDOG=1 or STOPPING=1 from any process
 * of the unit's cgroup that reaches it): hidden from a sandboxed node. (An abstract NOTIFY_SOCKET,
 * @…, is out of reach already: a sandbox has its own network namespace unless `network: true`.)
 */
export function socketDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  return [...(env.XDG_RUNTIME_DIR ? [env.XDG_RUNTIME_DIR] : []), '/run/user', '/run/dbus', '/var/run/dbus', '/run/systemd', '/var/run/systemd'];
}

/**
 * Starts a node's proxy at its place in the runtime dir. `socket` names the socket file: a local
 * node's is new at each start (bus-<generation>.sock), so that a proxy that is still going away
 * never shares a path with its successor; a remote node's is stable.
 */
export async function startNodeProxy(o: { busAddress: string; runtimeDir: string; instance: string; name: string; tree: Tree; socket?: string }): Promise<BusProxy> {
  const dir = nodeSocketDir(o.runtimeDir, o.instance, o.name);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return startBusProxy(o.busAddress, join(dir, o.socket ?? 'bus.sock'), {
    instance: o.instance, name: o.name, ancestors: ancestorsOf(o.name, o.tree), descendants: descendants(o.name, o.tree),
  });
}

/** The folders a program needs to be read: where its file and every existing path argument are. */
function programDirs(command: string[], cwd: string | undefined): string[] {
  const dirs: string[] = [];
  for (const arg of command) {
    if (!arg.includes('/')) continue;
    const p = isAbsolute(arg) ? arg : resolve(cwd ?? process.cwd(), arg);
    try { dirs.push(statSync(p).isDirectory() ? p : dirname(p)); } catch { /* not a path */ }
  }
  return dirs;
}

export async function isolate(o: {
  trust: Trust; sandbox: SandboxSettings | undefined; name: string; instance: string; busAddress: string; runtimeDir: string;
  stateRoot: string; stateDir: string; command: string[]; cwd: string | undefined; configDir: string; tree: Tree;
  /** This start's number: the proxy socket's name. */
  generation: number;
  /** Files no sandboxed node may read: the config file, HIVE_TOKEN_FILE. */
  secretFiles: string[];
}): Promise<Isolated> {
  if (o.trust === 'direct') return { busAddress: o.busAddress, command: o.command, proxy: undefined };
  const proxy = await startNodeProxy({ ...o, socket: `bus-${o.generation}.sock` });
  if (o.trust !== 'sandboxed') return { busAddress: proxy.address, command: o.command, proxy };
  const bwrap = await which('bwrap');
  if (!bwrap) {
    await proxy.stop();
    throw new Error('bwrap not found: run scripts/install-system-deps (or: sudo apt-get install -y bubblewrap)');
  }
  // The program itself, as execvp would find it: bwrap looks it up inside, where the same PATH is visible.
  const exe = o.command[0]!.includes('/') ? [] : [await which(o.command[0]!)].filter((p): p is string => !!p);
  let home: string | undefined;
  try { home = homedir(); } catch { home = undefined; }
  // The socket folders by their real paths: /var/run is /run on most systems, and bwrap cannot mount twice through a link.
  const sockets = socketDirs().filter((d) => existsSync(d)).map((d) => realpathSync(d));
  const hide = [...new Set([o.runtimeDir, o.stateRoot, ...sockets, ...(home && home !== '/' ? [home] : [])])].filter((d) => existsSync(d));
  const readOnly = [PACKAGE_ROOT, ...programDirs([...exe, ...o.command], o.cwd), ...(o.cwd ? [o.cwd] : []), ...(o.sandbox?.read_only ?? []).map((d) => resolve(o.configDir, d))]
    .filter((d) => existsSync(d));
  const args = sandboxArgs({
    stateDir: o.stateDir, hide, readOnly, hideFiles: o.secretFiles.filter((f) => existsSync(f)), writable: [nodeSocketDir(o.runtimeDir, o.instance, o.name)], network: o.sandbox?.network ?? false, cwd: o.cwd,
  });
  return { busAddress: proxy.address, command: [bwrap, ...args, ...o.command], proxy };
}
