/**
 * Is every running node where the supervisor put it? A node that lost its place (another
 * connection attached under its name, someone else's SetParent moved it) gets `NotChild` on every
 * Send while it looks `running`. Every PLACEMENT_CHECK_MS the supervisor reads each parent's
 * Children (one Properties.Get per parent): a node seen out of place twice in a row is logged,
 * shown `misplaced` by `hive tree` and put back with SetParent; one still out of place
 * MISPLACED_RESTART_CHECKS checks after it was first seen is restarted (a remote node only gets
 * SetParent again).
 */
import type { Logger } from 'pino';
import { nodeBusName } from '../protocol/names.js';
import type { NodeRecord } from './node-record.js';
import type { Launched } from './node-process.js';

export const PLACEMENT_CHECK_MS = 2000;
const MISPLACED_RESTART_CHECKS = 4;

/** A parent's Children: [node name, bus name it is attached by]. */
export type ChildEntries = [string, string][];

/** Whether `r` is in `children` as itself: by its own connection, or by its bus name (a child without a connection). */
export function isListed(r: NodeRecord, children: ChildEntries, instance: string): boolean {
  return children.some(([n, u]) => n === r.name && (u === r.unique || u === nodeBusName(instance, r.name)));
}

/** The running nodes whose parent is up, each with the parent it should be attached to. */
export function placedNodes(nodes: Iterable<NodeRecord>, byName: ReadonlyMap<string, NodeRecord>): { r: NodeRecord; parent: string }[] {
  const out: { r: NodeRecord; parent: string }[] = [];
  for (const r of nodes) {
    if (!r.spec || r.state !== 'running' || !r.unique || !r.currentParent || r.pendingParent) continue;
    const p = byName.get(r.currentParent);
    if (p && (p.state === 'running' || p.state === 'held') && p.unique) out.push({ r, parent: r.currentParent });
  }
  return out;
}

export interface PlacementHost {
  readonly nodes: ReadonlyMap<string, NodeRecord>;
  readonly instance: string;
  readonly log: Logger;
  stopping(): boolean;
  childrenEntries(node: string): Promise<ChildEntries | undefined>;
  /** SetParent of `r` to `parent` (from the supervisor's connection, which is what the node checks). */
  putBack(r: NodeRecord, parent: string): Promise<unknown>;
  /** SIGTERM to the node's own process (inside a sandbox: not to bwrap, sandbox.ts). */
  askToStop(r: NodeRecord, launched: Launched): void;
}

/** One check of every placed node; at most one runs at a time. */
export function placementChecker(host: PlacementHost): () => Promise<void> {
  let running = false;
  return async () => {
    if (host.stopping() || running) return;
    running = true;
    try {
      const wanted = placedNodes(host.nodes.values(), host.nodes);
      const lists = new Map<string, Promise<ChildEntries | undefined>>();
      for (const { parent } of wanted) if (!lists.has(parent)) lists.set(parent, host.childrenEntries(parent));
      for (const { r, parent } of wanted) {
        const children = await lists.get(parent)!;
        if (children === undefined || host.stopping()) continue;
        // The tree may have moved on while we asked.
        if (r.currentParent !== parent || r.state !== 'running' || r.pendingParent) continue;
        if (isListed(r, children, host.instance)) {
          if (r.misplacedSince !== undefined) host.log.info({ child: r.name, parent, ms: Date.now() - r.misplacedSince }, 'node back in place');
          r.misplacedSince = undefined;
          r.misplacedChecks = 0;
          continue;
        }
        r.misplacedChecks++;
        if (r.misplacedChecks === 1) continue; // maybe a move in flight: judged at the next check
        if (r.misplacedChecks === 2) {
          r.misplacedSince = Date.now();
          r.misplacements++;
          host.log.warn({ child: r.name, parent, listed: children.filter(([n]) => n === r.name) }, 'node is not attached where it should be (misplaced); putting it back');
        }
        if (r.misplacedChecks >= MISPLACED_RESTART_CHECKS && !r.spec?.remote && r.launched) {
          host.log.error({ child: r.name, parent }, 'misplaced node did not come back in place; restarting it');
          r.misplacedChecks = 0;
          host.askToStop(r, r.launched);
          continue;
        }
        void host.putBack(r, parent).catch((err) => host.log.warn({ err, child: r.name, parent }, 'putting a misplaced node back failed'));
      }
    } finally {
      running = false;
    }
  };
}
