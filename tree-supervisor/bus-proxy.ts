/**
 * A filtered bus connection for one node (docs/security.md): an `xdg-dbus-proxy` (Debian's
 * package; the filter Flatpak puts between sandboxed apps and the session bus) listening on a
 * socket of its own, whose address the node gets instead of the bus's. Through it the node can
 * own only its own name (and those of its configured descendants, which it holds for children
 * without a connection), call only `org.hive.Node1` on the nodes that can be its parent (its
 * configured ancestors: re-parenting only ever moves a node up that chain), and hear only their
 * broadcasts, and ask the supervisor two things: Supervisor1.Vouch (a parent checks a child's
 * credential) and Supervisor1.CheckParent (a child checks a new parent before following it). No other names, no other Supervisor1 method, no monitoring or eavesdropping. Calls *to* the node
 * (from its children and the supervisor) pass, as they do into a Flatpak app.
 *
 * The policy is a pure function (`proxyArgs`), the process is started like a node (under
 * `setpriv --pdeathsig KILL` where it exists, so it dies with the supervisor).
 */
import { access, rm } from 'node:fs/promises';
import { execa, type ResultPromise } from 'execa';
import { NODE_INTERFACE, NODE_PATH, SUPERVISOR_INTERFACE, SUPERVISOR_PATH, nodeBusName, supervisorBusName } from '../protocol/names.js';
import which from './which.js';

export interface ProxyPolicy {
  instance: string;
  /** The node the connection is for. */
  name: string;
  /** Its configured ancestors, nearest first, up to and including the mouth. */
  ancestors: string[];
  /** Its configured descendants: a parent holds the names of children without a connection. */
  descendants?: string[];
}

export class ProxyError extends Error {
  override name = 'ProxyError';
}

/** The xdg-dbus-proxy arguments (after the bus address and socket path) for one node. */
export function proxyArgs(p: ProxyPolicy): string[] {
  const node = (n: string) => nodeBusName(p.instance, n);
  const rule = `${NODE_INTERFACE}.*@${NODE_PATH}`;
  return [
    '--filter',
    // Children are watched by their unique names (NameOwnerChanged), which the filter hides otherwise.
    '--sloppy-names',
    `--own=${node(p.name)}`,
    ...(p.descendants ?? []).map((d) => `--own=${node(d)}`),
    ...p.ancestors.flatMap((a) => [`--call=${node(a)}=${rule}`, `--broadcast=${node(a)}=${rule}`]),
    `--call=${supervisorBusName(p.instance)}=${SUPERVISOR_INTERFACE}.Vouch@${SUPERVISOR_PATH}`,
    `--call=${supervisorBusName(p.instance)}=${SUPERVISOR_INTERFACE}.CheckParent@${SUPERVISOR_PATH}`,
  ];
}

export interface BusProxy {
  /** The address to give the node (HIVE_BUS_ADDRESS). */
  address: string;
  pid: number;
  stop(): Promise<void>;
}

const READY_WAIT_MS = 5000;

/** Starts a proxy from `busAddress` to a new socket at `socketPath` with the node's policy. */
export async function startBusProxy(busAddress: string, socketPath: string, policy: ProxyPolicy): Promise<BusProxy> {
  const program = await which('xdg-dbus-proxy');
  if (!program) throw new ProxyError('xdg-dbus-proxy not found: run scripts/install-system-deps (or: sudo apt-get install -y xdg-dbus-proxy)');
  await rm(socketPath, { force: true });
  const setpriv = await which('setpriv');
  const argv = [program, busAddress, socketPath, ...proxyArgs(policy)];
  const proc: ResultPromise = setpriv
    ? execa(setpriv, ['--pdeathsig', 'KILL', ...argv], { reject: false, stdio: 'ignore', cleanup: true })
    : execa(argv[0]!, argv.slice(1), { reject: false, stdio: 'ignore', cleanup: true });
  let ended = false;
  void proc.then(() => { ended = true; });
  const deadline = Date.now() + READY_WAIT_MS;
  for (;;) {
    if (await access(socketPath).then(() => true, () => false)) break;
    if (ended || Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new ProxyError(`xdg-dbus-proxy for '${policy.name}' did not start listening at ${socketPath}${ended ? ' (it exited)' : ` within ${READY_WAIT_MS} ms`}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return {
    address: `unix:path=${socketPath}`,
    pid: proc.pid!,
    async stop() {
      if (!ended) { proc.kill('SIGTERM'); await proc; }
      await rm(socketPath, { force: true });
    },
  };
}
