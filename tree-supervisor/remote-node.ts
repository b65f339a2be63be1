/**
 * Remote nodes (docs/deploy.md): started by hand elsewhere, with their credential and a parent of
 * the operator's choosing (`hive remote NAME` gives both, and the address). A filtered remote
 * node (the default) reaches the hive only through its own proxy, whose socket is at a stable
 * place in the runtime dir for the hive's life (node-isolation.ts): that socket, never the bus's,
 * is what the operator forwards over ssh. The supervisor never starts or stops the node; it looks
 * for it on the bus, puts it where the tree wants it with SetParent, and treats its vanishing like
 * a death whose restart is someone else's. A node holding a stale credential is found out by the
 * refusal of a Vouch its own ancestor asked when it attached (SetParent carries no credential: a
 * node in vouch mode takes it from the supervisor's connection alone).
 */
import type { Logger } from 'pino';
import { HiveError } from '../protocol/errors.js';
import { NODE_INTERFACE, nodeBusName } from '../protocol/names.js';
import { nameOwner, type DBusMessage, type MessageBus } from '../protocol/sdk/bus.js';
import { viewsOf, type NodeRecord } from './node-record.js';
import { startingParent, type NodeState, type Tree } from './reparent.js';
import { startNodeProxy } from './node-isolation.js';
import { ancestorsOf } from './trust.js';

export interface RemoteHost {
  readonly nodes: ReadonlyMap<string, NodeRecord>;
  readonly tree: Tree;
  readonly instance: string;
  readonly busAddress: string;
  readonly runtimeDir: string;
  readonly log: Logger;
  credentialOf(node: string): string;
  bus(): MessageBus;
  callNode(node: string, iface: string, member: string, signature: string, body: unknown[], timeoutMs: number): Promise<DBusMessage>;
  setState(r: NodeRecord, state: NodeState): void;
  converge(): void;
}

export class RemoteNodes {
  constructor(private readonly h: RemoteHost) {}

  /** A remote node of the config or of `hive load`: its proxy (unless trust: direct), then look for it. */
  async open(r: NodeRecord): Promise<void> {
    if (r.trust !== 'direct' && !r.proxy) {
      try {
        r.proxy = await startNodeProxy({ busAddress: this.h.busAddress, runtimeDir: this.h.runtimeDir, instance: this.h.instance, name: r.name, tree: this.h.tree });
      } catch (err) {
        r.error = `its filtered socket: ${(err as Error).message}`;
        this.h.log.error({ child: r.name, err }, 'remote node\'s proxy could not be started; it cannot attach');
        this.h.setState(r, 'failed');
        return;
      }
    }
    await this.lookFor(r);
  }

  /** Unloaded: its socket goes. */
  async close(r: NodeRecord): Promise<void> {
    const p = r.proxy;
    r.proxy = undefined;
    await p?.stop().catch(() => undefined);
  }

  /** `hive remote NAME`: the address to forward to the node's host, and its credential. */
  access(r: NodeRecord): [string, string] {
    if (!r.spec?.remote) throw new HiveError('InvalidArgs', `'${r.name}' is not a remote node (remote: true): the supervisor starts it itself`);
    if (r.trust !== 'direct' && !r.proxy) throw new HiveError('Failed', `'${r.name}' has no filtered socket: ${r.error ?? 'its proxy is not running'}`);
    return [r.proxy?.address ?? this.h.busAddress, this.h.credentialOf(r.name)];
  }

  /**
   * A Vouch for this remote node was refused. Asked by one of its configured ancestors, that is
   * the node's own Attach (or Join) with a credential that is not its own: it gets no children.
   * Anyone else asking is ignored, so that nobody can mark a remote node failed by asking.
   */
  refusedBy(r: NodeRecord, caller: string): void {
    const asker = ancestorsOf(r.name, this.h.tree).some((a) => this.h.nodes.get(a)?.unique === caller);
    if (!asker || !r.unique || r.state === 'failed') return;
    this.stale(r);
  }

  private stale(r: NodeRecord): void {
    this.h.log.error({ child: r.name }, 'remote node does not hold this hive\'s token (made anew at every `hive up` unless HIVE_TOKEN_FILE keeps it): it gets no children; start it again with the credential `hive remote` gives');
    r.error = 'its credential is not this hive\'s (see `hive remote`)';
    this.h.setState(r, 'failed');
    this.h.converge();
  }

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
   * SetParent puts it where the tree wants it. One started with the credential of an earlier
   * `hive up` is found out when its Attach is vouched for (refusedBy) and gets no children.
   */
  private async appeared(r: NodeRecord, owner: string): Promise<void> {
    const { h } = this;
    let target = r.spec!.parent;
    // Held (a guard above it is down): it waits for its configured parent like any held node.
    try { target = startingParent(r.name, h.tree, viewsOf(h.nodes.values())); } catch (err) { h.log.error({ err }, 'tree inconsistent'); }
    try {
      // '' as the token: in vouch mode the node ignores it (only the supervisor's connection may call SetParent).
      await h.callNode(r.name, NODE_INTERFACE, 'SetParent', 'ss', [nodeBusName(h.instance, target), ''], 5000);
    } catch (err) {
      if (r.unique !== owner) return;
      // The parent may just be restarting, and the node follows it (or the node is slow to answer).
      h.log.info({ child: r.name, to: target, reason: (err as Error).message }, 'remote node not attached yet; it waits for its parent');
    }
    // Found out meanwhile (a Vouch refused at its Attach): it stays failed until it comes again.
    if (r.unique !== owner || r.state === 'failed') return;
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
