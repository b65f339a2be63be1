/**
 * The live tree as `hive tree --json` prints it (docs/cli.md): one entry per node with its kind,
 * how it is run, how far it is trusted, state, process, current and configured parent, counters and whether it is
 * misplaced. Read-only: asks the running nodes for their properties, changes nothing.
 */
import { nodeBusName } from '../protocol/names.js';
import type { NodeRecord, RunMode } from './node-record.js';
import { isListed, placedNodes, PLACEMENT_CHECK_MS, type ChildEntries } from './placement.js';
import { chooseNewParent, liveStates, type Tree } from './reparent.js';
import { viewsOf } from './node-record.js';
import type { Trust } from './trust.js';

export interface TreeViewHost {
  readonly nodes: ReadonlyMap<string, NodeRecord>;
  readonly tree: Tree;
  readonly instance: string;
  childrenEntries(node: string): Promise<ChildEntries | undefined>;
  /** Node1's properties (Properties.GetAll); rejects when the node does not answer. */
  properties(node: string): Promise<Record<string, { value: unknown }>>;
}

export interface TreeEntry {
  name: string;
  /** The node's kind (mouth, responder, automaton, filter, aggregator) once known, else how it is run. */
  kind: string;
  run: RunMode;
  /** direct (on the bus), filtered (through its own proxy) or sandboxed (filtered, under bwrap). */
  trust: Trust;
  pid: number | null;
  remote: boolean;
  bus_name: string;
  unique_name: string | null;
  parent: string | null;
  configured_parent: string | null;
  state: string;
  restarts: number;
  uptime_ms: number;
  counters: Record<string, number>;
  misplaced: boolean;
  misplacements: number;
  error: string | null;
}

export async function treeView(host: TreeViewHost): Promise<{ instance: string; nodes: TreeEntry[] }> {
  const states = liveStates(viewsOf(host.nodes.values()));
  const shouldBe = new Map(placedNodes(host.nodes.values(), host.nodes).map(({ r, parent }) => [r.name, parent]));
  const lists = new Map<string, Promise<ChildEntries | undefined>>();
  for (const parent of shouldBe.values()) if (!lists.has(parent)) lists.set(parent, host.childrenEntries(parent));
  const nodes = await Promise.all([...host.nodes.values()].map(async (r): Promise<TreeEntry> => {
    let counters: Record<string, number> = {};
    if (r.state === 'running' || r.state === 'held') {
      try {
        const props = await host.properties(r.name);
        // Kept on the record: a node shows the same kind when it is down again.
        if (props.Kind?.value !== undefined) r.kind = String(props.Kind.value);
        counters = Object.fromEntries(Object.entries((props.Counters?.value ?? {}) as Record<string, bigint>).map(([k, v]) => [k, Number(v)]));
      } catch { /* the node may be going down just now */ }
    }
    let parent: string | null = null;
    if (r.spec) {
      try {
        const c = chooseNewParent(r.name, host.tree, states);
        parent = 'parent' in c ? c.parent : r.currentParent ?? r.spec.parent;
      } catch { parent = r.currentParent ?? null; }
    }
    const expected = shouldBe.get(r.name);
    const children = expected ? await lists.get(expected)! : undefined;
    // Seen now, or by the last check (a check that could not ask the parent keeps the flag).
    // A node that just took its name attaches a moment later: not judged within its first check period.
    const settled = r.misplacedChecks > 0 || Date.now() - (r.startedAt ?? 0) > PLACEMENT_CHECK_MS;
    const misplaced = children ? settled && !isListed(r, children, host.instance) && r.pendingParent === undefined : r.misplacedSince !== undefined;
    return {
      name: r.name,
      kind: r.kind ?? r.run,
      run: r.run,
      trust: r.trust,
      pid: r.launched?.pid ?? null,
      remote: r.spec?.remote === true,
      bus_name: nodeBusName(host.instance, r.name),
      unique_name: r.unique ?? null,
      parent,
      configured_parent: r.spec ? r.spec.parent : null,
      state: r.state,
      restarts: r.restarts,
      uptime_ms: r.state === 'running' && r.startedAt ? Date.now() - r.startedAt : 0,
      counters,
      misplaced,
      misplacements: r.misplacements,
      error: r.error ?? null,
    };
  }));
  return { instance: host.instance, nodes };
}
