/**
 * The node runtime: one HiveNode per process, serving org.hive.Node1 at /org/hive/Node with
 * dbus-next's low-level API.
 *
 * Contract (docs/protocol.md): a node follows one parent (a bus name), subscribes to that parent's
 * signals only (match rule on its unique name), attaches with its credential, and sends up by
 * calling the parent's Send. It accepts Send only from attached children, refuses malformed input
 * with named errors and keeps serving. When the parent's name gets a new owner, the node attaches
 * to it again and asks for what it missed (Replay). On shutdown it tells its children where to go
 * (the Reparent signal) and detaches.
 *
 * HiveNode is the facade: it owns the connection and the down path, and hands each other job to its
 * part — parent-link.ts (following the parent, the up path), child-registry.ts (attached children,
 * Send), connectionless.ts (children without a connection, docs/protocol.md#a-node-without-a-connection),
 * node-service.ts (serving Node1: methods, properties, the header gate), sequence-numbers.ts (the
 * parent's hive.seq, saved across restarts).
 */
import type { Logger } from 'pino';
import { encode, type WireMessage } from '../codec.js';
import { HiveError } from '../errors.js';
import { newMessageId, type HiveMessage } from '../hive-message.js';
import { NODE_INTERFACE, NODE_PATH, NAME_PATTERN, nodeBusName } from '../names.js';
import { checkLines, checkMeta } from '../validate.js';
import { DBUS, Message, MessageType, callBus, connectBus, emitHiveSignal, type DBusMessage, type MessageBus } from './bus.js';
import { refusalOf, setReadDelay } from './bus-gate.js';
import { MatchRules, takeOwnName } from './bus-names.js';
import { ChildRegistry } from './child-registry.js';
import { ConnectionlessChildren } from './connectionless.js';
import type { DetailValue } from './details.js';
import { createContext, type ChildInfo, type Counters } from './node-context.js';
import { NodeService } from './node-service.js';
import { ParentLink } from './parent-link.js';
import { ReplayBuffer } from './replay-buffer.js';
import { COMMAND_ROUTE, routeOf } from './routes.js';
import { appendPath } from './sender-stamp.js';
import { SequenceNumbers } from './sequence-numbers.js';

export type { ChildInfo, Counters } from './node-context.js';
export type { DetailValue } from './details.js';

export type Kind = 'mouth' | 'responder' | 'automaton' | 'filter' | 'aggregator';

export interface NodeOptions {
  name: string;
  kind: Kind;
  instance: string;
  token: string;
  log: Logger;
  busAddress?: string;
  /** Bus name of the parent to follow; empty for the mouth. */
  parent?: string;
  commands?: [command: string, help: string][];
  /** on_death: hold — when this node goes, its children wait for it instead of moving up. */
  holdOnDeath?: boolean;
  callTimeoutMs?: number;
  replaySize?: number;
  /** Where the node keeps the last sequence number it saw, so that a restart can be caught up. */
  stateDir?: string;
  /** The lease of a child without a connection, in seconds (default 30): it renews within that time or is forgotten. */
  leaseSeconds?: number;
  /** What starts a command (HIVE_COMMAND_PREFIX; default `!`): the route of a message this node makes depends on it (routes.ts). */
  commandPrefix?: string;
  /**
   * Vouch mode (HIVE_VOUCH=1): `token` is this node's own credential, and those of its children are
   * checked by asking the supervisor (credential-check.ts); SetParent only from the supervisor.
   */
  vouch?: boolean;
  /**
   * A leaf that takes traffic not addressed to it (more than its commands) reads what came at most
   * this often (ms, default READ_DELAY_MS; 0: as it comes): bus-gate.ts setReadDelay.
   */
  readDelayMs?: number;
}

/**
 * 25 ms: an observer (seen, a bridge, autorespond with rules) answers at most that much later,
 * which nobody in a channel can tell, and is woken once for a burst rather than once per line.
 */
export const READ_DELAY_MS = 25;

export class HiveNode {
  readonly name: string;
  readonly kind: Kind;
  readonly log: Logger;
  readonly busName: string;
  bus!: MessageBus;
  commands: [string, string][];
  /** Set by the plugin context too (plugin.ts), which is handed the prefix. */
  commandPrefix: string;
  readonly counters: Counters = { in: 0, out: 0, dropped: 0, errors: 0, lost: 0 };
  /** The children by unique bus name (a child without a connection by its well-known one). */
  readonly children: Map<string, ChildInfo>;

  /** What to do with a message from the parent (and its route key). Default: pass it down unchanged. */
  onDown: (wire: WireMessage, route: string) => void = (wire, route) => this.passDown(wire, route);
  /** What to do with a message a child sent up. Default: pass it up unchanged. */
  onUp: (wire: WireMessage, child: ChildInfo) => Promise<void> = (wire) => this.passUp(wire);
  /** The node's own figures, published as the Details property (docs/protocol.md#properties). */
  details: () => Record<string, DetailValue> = () => ({});
  /** Called when the bus connection ends while the node is not stopping (the process should end). */
  onBusLost?: () => void;
  /** Called after the node attached to a (new) parent. */
  onAttached?: (parent: string) => void;
  /** Called when the parent keeps refusing this node as a child after it attached again (the process should end, code 3). */
  onLostPlace?: () => void;

  private stopping = false;
  /** Taking everything for good: a child came (routes.ts). */
  private wide = false;
  private readonly replay: ReplayBuffer;
  private readonly seqs: SequenceNumbers;
  private readonly link: ParentLink;
  private readonly registry: ChildRegistry;
  private readonly connectionless: ConnectionlessChildren;
  private readonly service: NodeService;

  constructor(private readonly opts: NodeOptions) {
    if (!NAME_PATTERN.test(opts.name)) throw new HiveError('InvalidArgs', `node name '${opts.name}': expected letters, digits and _ starting with a letter`);
    this.name = opts.name;
    this.kind = opts.kind;
    this.log = opts.log;
    this.busName = nodeBusName(opts.instance, opts.name);
    this.commands = opts.commands ?? [];
    this.commandPrefix = opts.commandPrefix ?? '!';
    this.replay = new ReplayBuffer(opts.replaySize ?? 512);
    const ctx = createContext({
      name: this.name, busName: this.busName, instance: opts.instance, token: opts.token, log: this.log, counters: this.counters,
      callTimeoutMs: opts.callTimeoutMs ?? 10_000, bus: () => this.bus, stopping: () => this.stopping, vouch: opts.vouch,
    });
    const rules = new MatchRules(() => this.bus);
    const up = (wire: WireMessage, child: ChildInfo) => this.onUp(wire, child);
    this.seqs = new SequenceNumbers(ctx, opts.stateDir);
    this.link = new ParentLink(ctx, {
      token: opts.token, rules, seqs: this.seqs,
      deliver: (wire, route) => this.receive(wire, route),
      routeOf: (wire) => routeOf(wire, this.commandPrefix),
      attached: (parent) => this.onAttached?.(parent),
      lostPlace: () => this.onLostPlace?.(),
    });
    // Set at once, before the await: a narrowing asked meanwhile (a plugin adding a command) must
    // not undo it while the first child is being let in. A node with children stays wide.
    const widen = () => { this.wide = true; return this.subscribe('all'); };
    this.registry = new ChildRegistry(ctx, { rules, up, attached: (name) => this.connectionless.replacedByConnection(name), widen, lastNumbers: () => this.replay.lastNumbers() });
    this.children = this.registry.children;
    this.connectionless = new ConnectionlessChildren(ctx, { registry: this.registry, rules, up, leaseSeconds: opts.leaseSeconds, widen });
    this.service = new NodeService(ctx, {
      kind: this.kind, registry: this.registry, connectionless: this.connectionless, replay: this.replay,
      parentName: () => this.link.parentName,
      parentUnique: () => this.link.parentUnique,
      setParent: (parent) => this.link.setParent(parent),
      commands: () => this.commands,
      details: () => this.details(),
    });
  }

  get parent(): string { return this.link.parentName; }
  /** What this node takes from its parent: every message, or those of some routes (routes.ts). */
  get wants(): readonly string[] | 'all' { return this.link.wants; }

  /**
   * Takes only the messages of these route patterns from the parent (`K` exactly, `K.*` K and every
   * key under it), or all of them: the bus daemon then delivers nothing else to this process.
   * A node with children takes everything whatever it is told (they may want anything).
   */
  async subscribe(wants: readonly string[] | 'all'): Promise<void> {
    const leaf = !(this.wide || this.children.size > 0 || this.connectionless.size > 0);
    const w = leaf ? wants : 'all';
    // A leaf on no answer's path but its own: its commands only, it reads as things come.
    this.observer = leaf && this.kind !== 'mouth' && (w === 'all' || w.some((p) => !p.startsWith(COMMAND_ROUTE)));
    this.applyReadDelay();
    if (w !== 'all') {
      this.replay.setNarrow(true);
      return this.link.subscribe(w);
    }
    // Wide only once the daemon has the rule: a message routed before it (narrowly) arrives before
    // AddMatch's answer, and must not count as the first of the complete part of the buffer.
    await this.link.subscribe(w);
    this.replay.setNarrow(false);
  }
  private observer = false;
  private applyReadDelay(): void {
    if (this.bus) setReadDelay(this.bus, this.observer ? this.opts.readDelayMs ?? READ_DELAY_MS : 0);
  }

  get attached(): boolean { return this.link.parentUnique !== undefined; }
  get uniqueName(): string { return (this.bus as unknown as { name: string }).name; }

  /** Connects, takes the node's bus name, and attaches to the parent if there is one. */
  async start(): Promise<void> {
    await this.seqs.restore();
    this.bus = await connectBus(this.opts.busAddress, undefined, { check: (h) => this.service.gate(h) });
    this.bus.on('error', (err: unknown) => this.log.error({ err }, 'bus connection error'));
    this.applyReadDelay();
    // The socket may end cleanly or be reset (the daemon killed with data pending): either way.
    let lost = false;
    const onLost = () => {
      if (this.stopping || lost) return;
      lost = true;
      this.log.fatal('lost the connection to the bus');
      this.onBusLost?.();
    };
    const conn = (this.bus as unknown as { _connection: NodeJS.EventEmitter & { stream: NodeJS.EventEmitter } })._connection;
    conn.on('end', onLost);
    conn.stream.on('close', onLost);
    this.bus.on('message', (msg: DBusMessage) => this.dispatch(msg));
    this.service.serve();
    // Our own name, which nobody can take from us while we live (a last run of this node that is
    // still going is waited for a moment; a live owner keeps it, and we fail).
    const { owned, reply } = await takeOwnName(this.bus, this.busName);
    if (!owned) throw new HiveError('Failed', `cannot own the bus name ${this.busName} (reply ${reply}${reply === 3 ? ': another live connection owns it' : ''})`);
    this.log.info({ busName: this.busName, unique: this.uniqueName }, 'node on the bus');
    if (this.opts.parent) await this.setParent(this.opts.parent).catch((err: Error) => this.log.info({ reason: err.message }, 'parent not reachable yet; waiting for it'));
  }

  // ---- down ----------------------------------------------------------------------------

  /**
   * Sends a message down to the children, with this node added to its path. `route`: the key it
   * came with, for a message passed on unchanged; worked out here for one this node made or changed.
   */
  passDown(wire: WireMessage, route?: string): void {
    appendPath(wire, this.name);
    const meta = wire[1];
    const seq = meta['hive.seq'];
    const network = meta['hive.network'];
    if (seq === undefined && this.children.size === 0) return;
    const key = route ?? routeOf(wire, this.commandPrefix);
    if (seq && network) this.replay.add(network.value as string, Number(seq.value), wire, key);
    if (this.children.size === 0) return;
    this.counters.out++;
    this.connectionless.countDown();
    emitHiveSignal(this.bus, NODE_PATH, NODE_INTERFACE, 'Message', key, wire);
  }

  /** Sends a message this node made down to its children (an aggregator's query, the mouth's lines). */
  emit(msg: HiveMessage): void {
    msg.meta['hive.id'] ??= newMessageId(this.name);
    this.passDown(encode(msg));
  }

  /** A new message from the parent (parent-link.ts has put it in order and dropped repeats). */
  private receive(wire: WireMessage, route: string): void {
    this.counters.in++;
    try {
      this.onDown(wire, route);
    } catch (err) {
      this.counters.errors++;
      this.log.error({ err }, 'message handler failed');
    }
  }

  // ---- up ------------------------------------------------------------------------------

  /** Passes a child's message up to the parent (which adds this node to its path, docs/protocol.md#path-and-origin). */
  async passUp(wire: WireMessage): Promise<void> {
    await this.link.sendUp(wire);
    this.counters.out++;
  }

  /**
   * Sends a message this node made up to its parent; fills in id and origin. The parent puts this
   * node on the path (docs/protocol.md#path-and-origin); a filter that sends for a node of its
   * subtree (the pager's next page) names it as origin, and the path starts with it.
   */
  async send(msg: HiveMessage): Promise<void> {
    const meta = msg.meta;
    meta['hive.id'] ??= newMessageId(this.name);
    meta['hive.origin'] ??= this.name;
    if (meta['hive.origin'] === this.name) delete meta['hive.path'];
    else meta['hive.path'] = [meta['hive.origin']];
    const wire = encode(msg);
    checkLines(wire[0]);
    checkMeta(wire[1]);
    try {
      await this.link.sendUp(wire);
      this.counters.out++;
    } catch (err) {
      this.counters.errors++;
      throw err;
    }
  }

  // ---- parent --------------------------------------------------------------------------

  /** Resolves once the node is attached to a parent; fails with NoParent after `timeoutMs`. */
  waitAttached(timeoutMs: number): Promise<void> { return this.link.waitAttached(timeoutMs); }

  /** Follows a new parent (a bus name; '' for none) and attaches to it if it is on the bus. */
  setParent(parent: string): Promise<void> { return this.link.setParent(parent); }

  // ---- signals -------------------------------------------------------------------------

  private dispatch(msg: DBusMessage): void {
    if (msg.type !== MessageType.SIGNAL) return;
    if (msg.signature === '' && refusalOf(this.bus, msg)) return;
    if (msg.interface === NODE_INTERFACE) {
      this.link.onSignal(msg);
    } else if (msg.sender === DBUS.name && msg.member === 'NameOwnerChanged' && msg.interface === DBUS.iface) {
      const [name, , newOwner] = msg.body as [string, string, string];
      if (this.connectionless.ownerChanged(name, newOwner)) return;
      this.registry.ownerChanged(name, newOwner);
      this.link.ownerChanged(name, newOwner);
    }
  }

  // ---- shutdown ------------------------------------------------------------------------

  /** Tells the children where to go (Reparent with this node's parent), detaches and disconnects. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (!this.bus) return;
    this.sendReparent();
    // Children without a connection have their bus names on this one: they follow the Reparent.
    if (this.connectionless.size !== 0 && this.reparentTarget()) await this.connectionless.waitFollowed();
    this.connectionless.close();
    await this.seqs.flush();
    await this.link.detach();
    // With a deadline: dbus-next never answers a call whose connection died meanwhile (the bus
    // going down with the supervisor), and a node that hangs here would outlive its hive.
    await callBus(this.bus, 'ReleaseName', 's', [this.busName], 1000).catch(() => undefined);
    this.bus.disconnect();
    this.log.info('node stopped');
  }

  /** The fault handler: tell the children where to go before the process dies. */
  emitReparentNow(): void {
    try {
      if (this.bus) this.sendReparent();
    } catch { /* the process is dying anyway */ }
  }

  /** Where the children go when this node does: its parent, or nowhere (wait) when it holds its subtree. */
  private reparentTarget(): string {
    return this.opts.holdOnDeath ? '' : this.link.parentName;
  }

  private sendReparent(): void {
    this.bus.send(Message.newSignal(NODE_PATH, NODE_INTERFACE, 'Reparent', 's', [this.reparentTarget()]));
  }
}
