/**
 * Where each node should be attached, given who is alive. Pure tree logic, no processes.
 *
 * The configured tree never changes; when a node dies its children are moved up to the
 * nearest running ancestor (on_death: bypass), or left where they are to wait for it
 * (on_death: hold). Recomputing `effectiveParents` after every death or recovery and moving
 * nodes to the result makes the tree heal back to its configured shape on its own.
 *
 * The supervisor plans here and only applies: `planConvergence` says which nodes to hold,
 * release and move, `startingParent` where a starting node attaches, `stopWaves` in which
 * order the tree is stopped.
 */

/** The root of every tree: the process that owns the network connections. */
export const ROOT = 'mouth';

export type NodeState = 'running' | 'starting' | 'restarting' | 'held' | 'failed' | 'stopped';
export type OnDeath = 'hold' | 'bypass';

export interface TreeNode {
  /** The configured parent: ROOT or another node's name. */
  readonly parent: string;
  readonly onDeath: OnDeath;
}

/** Configured tree: every node except the root, by name. */
export type Tree = ReadonlyMap<string, TreeNode>;
/** Current state by name; a node (the root too) missing from the map counts as 'stopped'. */
export type States = ReadonlyMap<string, NodeState>;

/** Attach to `parent`, or wait (move nothing) until `holder` comes back. */
export type ParentChoice = { readonly parent: string } | { readonly hold: true; readonly holder: string };

export interface Reattachment {
  readonly node: string;
  /** Where it is attached now (undefined: nowhere). */
  readonly from: string | undefined;
  readonly to: string;
}

/** Only a running node can take new children. */
function isRunning(name: string, states: States): boolean {
  return states.get(name) === 'running';
}

/** A node whose process exists: it has (or is about to have) an attachment to decide. */
function hasProcess(state: NodeState | undefined): boolean {
  return state === 'running' || state === 'starting' || state === 'held';
}

/**
 * Where `node` should be attached: walk up the configured parents to the first running one.
 * A dead (any state but running/held) ancestor with on_death 'hold' stops the walk: the
 * subtree waits for it. A 'held' ancestor is alive but itself waiting, so the subtree below
 * it waits too and nothing is moved (holder: the dead hold node above it, else the held node).
 * Throws on a node or parent missing from the tree and on a cycle (config forbids both).
 */
export function chooseNewParent(node: string, tree: Tree, states: States): ParentChoice {
  const self = tree.get(node);
  if (!self) throw new Error(`'${node}' is not a node of the tree`);
  const seen = new Set([node]);
  let heldAt: string | undefined;
  let current = self.parent;
  for (;;) {
    if (current === ROOT) {
      if (!isRunning(ROOT, states)) return { hold: true, holder: ROOT };
      return heldAt ? { hold: true, holder: heldAt } : { parent: ROOT };
    }
    if (seen.has(current)) throw new Error(`the parents of '${node}' form a cycle through '${current}'`);
    seen.add(current);
    const spec = tree.get(current);
    if (!spec) throw new Error(`'${current}' (an ancestor of '${node}') is not a node of the tree`);
    const state = states.get(current) ?? 'stopped';
    if (state === 'running') return heldAt ? { hold: true, holder: heldAt } : { parent: current };
    if (state === 'held') heldAt ??= current;
    else if (spec.onDeath === 'hold') return { hold: true, holder: current };
    current = spec.parent;
  }
}

/**
 * The attachment every node with a process (running, starting or held) should have now.
 * A node whose configured parent runs gets exactly that parent, so once everything is up
 * again the result equals the configured tree.
 */
export function effectiveParents(tree: Tree, states: States): Map<string, ParentChoice> {
  const out = new Map<string, ParentChoice>();
  for (const name of tree.keys()) {
    if (hasProcess(states.get(name))) out.set(name, chooseNewParent(name, tree, states));
  }
  return out;
}

/** The moves that turn the current attachments into the target; held nodes are never moved. */
export function reattachments(
  current: ReadonlyMap<string, string | undefined>,
  target: ReadonlyMap<string, ParentChoice>,
): Reattachment[] {
  const moves: Reattachment[] = [];
  for (const [node, choice] of target) {
    if ('hold' in choice) continue;
    const from = current.get(node);
    if (from !== choice.parent) moves.push({ node, from, to: choice.parent });
  }
  return moves;
}

/** All configured descendants of `node` (ROOT allowed), parents before children. */
export function descendants(node: string, tree: Tree): string[] {
  const out: string[] = [];
  const queue = [node];
  const seen = new Set(queue);
  while (queue.length > 0) {
    const parent = queue.shift() as string;
    for (const [name, spec] of tree) {
      if (spec.parent === parent && !seen.has(name)) {
        seen.add(name);
        out.push(name);
        queue.push(name);
      }
    }
  }
  return out;
}

/** What the planner needs to know of one node as the supervisor sees it now. */
export interface NodeView {
  readonly state: NodeState;
  /** Where the supervisor attached it (undefined: nowhere yet). */
  readonly current?: string | undefined;
  /** A move to this parent is in flight. */
  readonly pending?: string | undefined;
}

export type ConvergeStep =
  /** Mark it held: a guard above it is down. */
  | { readonly do: 'hold'; readonly node: string; readonly holder: string }
  /** It was held and its guard is back: running again (a move may follow). */
  | { readonly do: 'release'; readonly node: string }
  /** SetParent it to `to`. */
  | ({ readonly do: 'move' } & Reattachment);

/**
 * The states the supervisor plans with: a held node has its process and keeps its own children
 * attached, so it counts as running; only the guard that is down holds its subtree.
 */
export function liveStates(nodes: ReadonlyMap<string, NodeView>): Map<string, NodeState> {
  const out = new Map<string, NodeState>();
  for (const [name, v] of nodes) out.set(name, v.state === 'held' ? 'running' : v.state);
  return out;
}

/**
 * Every step that brings the live nodes (running or held) to where they should be attached now.
 * The supervisor's rules on top of `effectiveParents` and `reattachments`:
 * - a starting node is left alone: it was launched with its parent (`startingParent`);
 * - a guard that is only starting up holds nothing yet (its subtree is neither held nor moved);
 * - a node held already is not held again; a held node whose guard is back is released;
 * - a node with a move in flight to its target is not moved again.
 * Throws, as chooseNewParent does, on a tree that is not one (an unknown parent, a cycle).
 */
export function planConvergence(tree: Tree, nodes: ReadonlyMap<string, NodeView>): ConvergeStep[] {
  const steps: ConvergeStep[] = [];
  const target = new Map<string, ParentChoice>();
  for (const [node, choice] of effectiveParents(tree, liveStates(nodes))) {
    const v = nodes.get(node)!;
    if (v.state !== 'running' && v.state !== 'held') continue;
    if ('hold' in choice) {
      if (nodes.get(choice.holder)?.state === 'starting') continue;
      if (v.state !== 'held') steps.push({ do: 'hold', node, holder: choice.holder });
      continue;
    }
    if (v.state === 'held') steps.push({ do: 'release', node });
    if (choice.parent !== v.pending) target.set(node, choice);
  }
  const attached = new Map([...target.keys()].map((n) => [n, nodes.get(n)!.current] as const));
  for (const move of reattachments(attached, target)) steps.push({ do: 'move', ...move });
  return steps;
}

/** Where a node that starts (or a remote node that appears) attaches now: its chosen parent, or, held, its configured one, where it waits. */
export function startingParent(node: string, tree: Tree, nodes: ReadonlyMap<string, NodeView>): string {
  const choice = chooseNewParent(node, tree, liveStates(nodes));
  return 'parent' in choice ? choice.parent : tree.get(node)!.parent;
}

/**
 * The order a whole tree is stopped in: the deepest nodes first, then their parents, the root
 * last; the nodes of one wave may be stopped at once. A node the root does not lead to (none in
 * a valid tree) is stopped in the first wave.
 */
export function stopWaves(tree: Tree): string[][] {
  const depth = new Map<string, number>([[ROOT, 0]]);
  for (const n of descendants(ROOT, tree)) depth.set(n, depth.get(tree.get(n)!.parent)! + 1);
  const deepest = Math.max(...depth.values());
  const waves: string[][] = Array.from({ length: deepest + 1 }, () => []);
  for (const n of tree.keys()) if (!depth.has(n)) waves[0]!.push(n);
  for (const [n, d] of depth) waves[deepest - d]!.push(n);
  return waves.filter((w) => w.length > 0);
}
