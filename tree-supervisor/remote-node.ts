/**
 * Remote nodes (docs/deploy.md): started by hand elsewhere, with a token and a parent of the
 * operator's choosing. The supervisor never starts or stops one; it looks for it on the bus, puts
 * it where the tree wants it with SetParent (which also proves it holds this hive's token), and
 * treats its vanishing like a death whose restart is someone else's.
 */
import type { Logger } from 'pino';
import { HiveError } from '../protocol/errors.js';
import { NODE_INTERFACE, nodeBusName } from '../protocol/names.js';
import { nameOwner, type DBusMessage, type MessageBus } from '../protocol/sdk/bus.js';
import { viewsOf, type NodeRecord } from './node-record.js';
import { startingParent, type NodeState, type Tree } from './reparent.js';

export interface RemoteHost {
  readonly nodes: ReadonlyMap<string, NodeRecord>;
  readonly tree: Tree;
  readonly instance: string;
  readonly token: string;
  readonly log: Logger;
  bus(): MessageBus;
  callNode(node: string, iface: string, member: string, signature: string, body: unknown[], timeoutMs: number): Promise<DBusMessage>;
  setState(r: NodeRecord, state: NodeState): void;
  converge(): void;
}

export class RemoteNodes {
  constructor(private readonly h: RemoteHost) {}

  /** A remote node may be on the bus before the supervisor looks (`hive load`, a shared bus). */
  async lookFor(r: NodeRecord): Promise<void> {
    const owner = await nameOwner(this.h.bus(), nodeBusName(this.h.instance, r.name));
    if (owner && !r.unique && this.h.nodes.get(r.name) === r) {
      r.unique = owner;
      this.seen(r, owner);
    }
  }

  /** It took its name (NameOwnerChanged, or found by lookFor). */
  seen(r: NodeRecord, owner: string): void {
    r.startedAt = Date.now();
    void this.appeared(r, owner);
  }

  /**
   * SetParent puts it where the tree wants it, and proves that it holds this hive's token. One
   * started with the token of an earlier `hive up` could attach to nothing and would refuse the
   * children moved under it, so it gets none.
   */
  private async appeared(r: NodeRecord, owner: string): Promise<void> {
    const { h } = this;
    let target = r.spec!.parent;
    // Held (a guard above it is down): it waits for its configured parent like any held node.
    try { target = startingParent(r.name, h.tree, viewsOf(h.nodes.values())); } catch (err) { h.log.error({ err }, 'tree inconsistent'); }
    try {
      await h.callNode(r.name, NODE_INTERFACE, 'SetParent', 'ss', [nodeBusName(h.instance, target), h.token], 5000);
    } catch (err) {
      if (r.unique !== owner) return;
      if (err instanceof HiveError && err.code === 'BadToken') {
        h.log.error({ child: r.name }, 'remote node does not hold this hive\'s token (made anew at every `hive up` unless HIVE_TOKEN_FILE keeps it): it gets no children; start it again with the token from the runtime file');
        h.setState(r, 'failed');
        h.converge();
        return;
      }
      // A refusal other than BadToken comes after the token check: the parent may just be
      // restarting, and the node follows it (or the node is slow to answer).
      h.log.info({ child: r.name, to: target, reason: (err as Error).message }, 'remote node not attached yet; it waits for its parent');
    }
    if (r.unique !== owner) return;
    r.currentParent = target;
    h.log.info({ child: r.name, parent: target, unique: owner }, 'remote node attached');
    h.setState(r, 'running');
    if (r.diedAt !== undefined) {
      // For a remote node, `restarts` counts its comebacks (a flaky tunnel shows there).
      r.restarts++;
      h.log.info({ child: r.name, downMs: Date.now() - r.diedAt }, 'node back');
    }
    r.diedAt = undefined;
    h.converge();
  }

  /** Its name left the bus: its children move (or wait), and it is `stopped` until it comes back. */
  vanished(r: NodeRecord): void {
    this.h.log.warn({ child: r.name }, 'remote node vanished; waiting for it to come back');
    r.diedAt = Date.now();
    this.h.setState(r, 'stopped');
    this.h.converge();
  }
}
