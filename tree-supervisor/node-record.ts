/**
 * What the supervisor knows of one node: its spec, how it is run, its state, its process and its
 * place in the tree. One record per node, made here; the supervisor changes it as events come.
 */
import type { PluginSpec } from './config.js';
import type { Launched } from './node-process.js';
import type { NodeState, NodeView } from './reparent.js';
import { createRestartIntensity, type RestartIntensity } from './restart-intensity.js';
import type { BusProxy } from './bus-proxy.js';
import { trustOf, type Trust } from './trust.js';

/** How a node is run: the mouth, a built-in plugin (`use:`), a program (`exec:`), or started elsewhere (`remote: true`). */
export type RunMode = 'mouth' | 'plugin' | 'exec' | 'remote';

export interface NodeRecord {
  name: string;
  /** Undefined for the mouth. */
  spec: PluginSpec | undefined;
  /** Whether it came from the config file (the hive's, or a reload's), not `hive load`: a reload unloads it once the file drops it. */
  fromFile: boolean;
  run: RunMode;
  /** How far it is trusted (trust.ts): on the bus, through its proxy, or sandboxed too. */
  trust: Trust;
  /** Its filtering proxy while it has one (a local node's lives with its process, a remote node's with the hive). */
  proxy: BusProxy | undefined;
  /** Settles when the proxies of its earlier starts are gone: a new start waits for it. */
  proxyGone: Promise<void>;
  /** The kind the node last reported (Node1.Kind), kept while it is down; undefined until it has. */
  kind: string | undefined;
  state: NodeState;
  launched: Launched | undefined;
  generation: number;
  /** The connection accepted as this node (its process or its proxy, supervisor.ts ownedByNode). */
  unique: string | undefined;
  /** NameOwnerChanged events of its name so far: an answer about an older owner is dropped. */
  ownerEvents: number;
  /** The last owner of its name being checked (or checked), and whether it was accepted. */
  pendingOwner: { owner: string; check: Promise<boolean> } | undefined;
  restarts: number;
  attempt: number;
  startedAt: number | undefined;
  intensity: RestartIntensity;
  /** The node it is attached to, as the supervisor arranged it. */
  currentParent: string | undefined;
  pendingParent: string | undefined;
  /** SetParent failures in a row, for the backoff of the retry. */
  moveFailures: number;
  restartTimer: NodeJS.Timeout | undefined;
  wantStopped: boolean;
  diedAt: number | undefined;
  /** The generation (start) whose end was already dealt with. */
  decided: number;
  /** Why it is failed (the OS error of a spawn, an exit 2, too many restarts); cleared when it runs. */
  error: string | undefined;
  /**
   * Running but not where the supervisor put it: its parent's Children does not list it (another
   * connection attached under its name, or it was moved by someone else). Since when, or undefined.
   */
  misplacedSince: number | undefined;
  /** Checks in a row that found it out of place. */
  misplacedChecks: number;
  /** How many times it was found out of place (shown by `hive tree`). */
  misplacements: number;
}

export function runModeOf(spec: PluginSpec | undefined): RunMode {
  return !spec ? 'mouth' : spec.use ? 'plugin' : spec.remote ? 'remote' : 'exec';
}

export function newRecord(name: string, spec: PluginSpec | undefined, fromFile = false): NodeRecord {
  return {
    name, spec, fromFile, run: runModeOf(spec), trust: trustOf(spec), proxy: undefined, proxyGone: Promise.resolve(), kind: spec ? undefined : 'mouth', state: 'stopped', launched: undefined, generation: 0, unique: undefined, ownerEvents: 0, pendingOwner: undefined,
    restarts: 0, attempt: 0, startedAt: undefined,
    intensity: createRestartIntensity({ max: spec?.restart.max ?? 5, withinMs: spec?.restart.within ?? 60_000 }),
    currentParent: undefined, pendingParent: undefined, moveFailures: 0, restartTimer: undefined, wantStopped: false, diedAt: undefined, decided: 0,
    error: undefined, misplacedSince: undefined, misplacedChecks: 0, misplacements: 0,
  };
}

/** The nodes as the planner (reparent.ts) sees them. */
export function viewsOf(nodes: Iterable<NodeRecord>): Map<string, NodeView> {
  const m = new Map<string, NodeView>();
  for (const r of nodes) m.set(r.name, { state: r.state, current: r.currentParent, pending: r.pendingParent });
  return m;
}
