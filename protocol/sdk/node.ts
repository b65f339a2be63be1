/**
 * The node runtime: one HiveNode per process, serving org.hive.Node1 at /org/hive/Node with
 * dbus-next's low-level API.
 *
 * Contract (docs/protocol.md): a node follows one parent (a bus name), subscribes to that parent's
 * signals only (match rule on its unique name), attaches with the hive token, and sends up by
 * calling the parent's Send. It accepts Send only from attached children, refuses malformed input
 * with named errors and keeps serving. When the parent's name gets a new owner, the node attaches
 * to it again and asks for what it missed (Replay). On shutdown it tells its children where to go
 * (the Reparent signal) and detaches.
 *
 * A child without a connection of its own (a shell script whose every `gdbus call` is a new
 * connection) joins with the token instead of attaching, and sends with the key Join gave it; this
 * node then holds the child's bus name and answers for it (docs/protocol.md#a-node-without-a-connection).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { encode, type WireMessage } from '../codec.js';
import { HiveError } from '../errors.js';
import { newMessageId, type HiveMessage } from '../hive-message.js';
import { NODE_INTERFACE, NODE_PATH, NAME_PATTERN, nodeBusName } from '../names.js';
import { NODE1 } from '../node1.js';
import { checkLines, checkMeta, checkWireMessage, loadMetaSchemas } from '../validate.js';
import {
  DBUS, Message, MessageType, Variant, addMatch, answerUnread, callBus, callHiveMethod, callWithDeadline, connectBus, emitHiveSignal, nameOwner, removeMatch,
  type DBusMessage, type MessageBus,
} from './bus.js';
import { ReplayBuffer } from './replay-buffer.js';
import { readJsonFile, writeFileAtomic } from './state-file.js';
import { serveObject } from './service.js';
import { refusalOf, type GateHeader, type Refusal } from './bus-gate.js';
import { createLogLimiter } from '../log-limit.js';
import { LIMITS } from '../limits.js';

const SEQ_SAVE_MS = 100;
const REPLAYED = new Variant('b', true);
/** How long a child without a connection stays without news (Join, Renew, SendAs) before it is forgotten. */
const LEASE_SECONDS = 30;
/** How long SetParent on such a child waits for it to join its new parent (the supervisor waits 5 s). */
const MOVE_WAIT_MS = 4000;
/** How long a stopping node waits for such children to follow its Reparent before it lets go of their names. */
const FOLLOW_WAIT_MS = 3000;
const JOIN_KINDS = new Set(['responder', 'automaton']);
/** How far below the last hive.seq a number is taken as already seen; further below, a new numbering. */
const SEQ_WINDOW = 1024;
/** How far ahead of this machine's clock a hive.seq (microseconds since the epoch at most) may be. */
const SEQ_FUTURE_MS = 10 * 60_000;
function seqFutureLimit(): number { return (Date.now() + SEQ_FUTURE_MS) * 1000; }
/** Re-attaching after being refused as a child: at most this many times within PLACE_WINDOW_MS, then give up the place. */
const MAX_REATTACH = 3;
const PLACE_WINDOW_MS = 60_000;
const REATTACH_BACKOFF_MS = 500;
/** hive.path's longest (metadata-schema.ts). */
const MAX_PATH = 64;
/** Networks whose last sequence number a node remembers (and saves); a real hive has a handful. */
const MAX_SEQ_NETWORKS = 64;

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
}

/** A child: its node name and unique bus name (for a child without a connection, its well-known bus name). */
export interface ChildInfo { name: string; unique: string }

/** A child without a connection of its own: this node holds its bus name and answers for it. */
interface Joined {
  name: string;
  busName: string;
  /** The secret SendAs, Renew and Leave carry, new at every Join: the hive token is needed only to join. */
  key: string;
  /** The child's id of its own run: the same run joining again is a repeat, another one a restart. */
  run: string;
  kind: string;
  commands: [string, string][];
  expires: number;
  counters: Counters;
  /** Serves calls addressed to the child's bus name (properties, SetParent); false when not served. */
  serve: (msg: DBusMessage) => boolean;
  /** SetParent calls waiting for the child to be taken over by its new parent. */
  moved: (() => void)[];
}

export interface Counters { in: number; out: number; dropped: number; errors: number; [k: string]: number }

export class HiveNode {
  readonly name: string;
  readonly kind: Kind;
  readonly log: Logger;
  readonly busName: string;
  bus!: MessageBus;
  commands: [string, string][];
  readonly counters: Counters = { in: 0, out: 0, dropped: 0, errors: 0, lost: 0 };
  readonly children = new Map<string, ChildInfo>();

  /** What to do with a message from the parent. Default: pass it down unchanged. */
  onDown: (wire: WireMessage) => void = (wire) => this.passDown(wire);
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

  private parentName = '';
  private parentUnique: string | undefined;
  private parentGeneration = 0;
  private readonly lastSeq = new Map<string, number>();
  private catchingUp: WireMessage[] | undefined;
  private readonly replay: ReplayBuffer;
  private readonly callTimeoutMs: number;
  private readonly rules = new Set<string>();
  private stopping = false;
  private seqSaveTimer: NodeJS.Timeout | undefined;
  private seqSaving: Promise<void> = Promise.resolve();
  private parentLeaving = false;
  /** Children without a connection, by their bus name and by their key. */
  private readonly joined = new Map<string, Joined>();
  private readonly joinKeys = new Map<string, Joined>();
  private joinChain: Promise<unknown> = Promise.resolve();
  private leaseTimer: NodeJS.Timeout | undefined;
  private readonly leaseSeconds: number;
  /** Refusals an attacker paces are logged at most a few times a minute per caller (counted always). */
  private readonly refusalLog = createLogLimiter();

  constructor(private readonly opts: NodeOptions) {
    if (!NAME_PATTERN.test(opts.name)) throw new HiveError('InvalidArgs', `node name '${opts.name}': expected letters, digits and _ starting with a letter`);
    this.name = opts.name;
    this.kind = opts.kind;
    this.log = opts.log;
    this.busName = nodeBusName(opts.instance, opts.name);
    this.commands = opts.commands ?? [];
    this.callTimeoutMs = opts.callTimeoutMs ?? 10_000;
    this.replay = new ReplayBuffer(opts.replaySize ?? 512);
    this.leaseSeconds = Math.max(1, Math.round(opts.leaseSeconds ?? LEASE_SECONDS));
  }

  get parent(): string { return this.parentName; }
  get attached(): boolean { return this.parentUnique !== undefined; }

  /** Connects, takes the node's bus name, and attaches to the parent if there is one. */
  async start(): Promise<void> {
    await this.restoreSeq();
    this.bus = await connectBus(this.opts.busAddress, undefined, { check: (h) => this.gate(h) });
    this.bus.on('error', (err: unknown) => this.log.error({ err }, 'bus connection error'));
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
    this.serve();
    // Replace a stale owner of our name (a previous run of this node that has not gone yet).
    const flags = 0x1 | 0x2 | 0x4; // ALLOW_REPLACEMENT | REPLACE_EXISTING | DO_NOT_QUEUE
    const reply = await this.bus.requestName(this.busName, flags);
    if (reply !== 1 && reply !== 4) throw new HiveError('Failed', `cannot own the bus name ${this.busName} (reply ${reply})`);
    this.log.info({ busName: this.busName, unique: (this.bus as unknown as { name: string }).name }, 'node on the bus');
    if (this.opts.parent) await this.setParent(this.opts.parent).catch((err: Error) => this.log.info({ reason: err.message }, 'parent not reachable yet; waiting for it'));
  }

  get uniqueName(): string { return (this.bus as unknown as { name: string }).name; }

  // ---- down ----------------------------------------------------------------------------

  /** Sends a message down to the children, with this node added to its path. */
  passDown(wire: WireMessage): void {
    appendPath(wire, this.name);
    const meta = wire[1];
    const seq = meta['hive.seq'];
    const network = meta['hive.network'];
    if (seq && network) this.replay.add(network.value as string, Number(seq.value), wire);
    if (this.children.size === 0) return;
    this.counters.out++;
    if (this.joined.size !== 0) for (const j of this.joined.values()) j.counters.in++;
    emitHiveSignal(this.bus, NODE_PATH, NODE_INTERFACE, 'Message', wire);
  }

  /** Sends a message this node made down to its children (an aggregator's query, the mouth's lines). */
  emit(msg: HiveMessage): void {
    msg.meta['hive.id'] ??= newMessageId(this.name);
    this.passDown(encode(msg));
  }

  private handleParentMessage(wire: WireMessage): void {
    if (this.catchingUp) { this.catchingUp.push(wire); return; }
    const meta = wire[1];
    const seq = meta['hive.seq'];
    if (seq) {
      const network = meta['hive.network']?.value as string | undefined;
      if (network && !this.seenSeq(network, Number(seq.value))) return;
    }
    this.counters.in++;
    try {
      this.onDown(wire);
    } catch (err) {
      this.counters.errors++;
      this.log.error({ err }, 'message handler failed');
    }
  }

  /**
   * Whether a message numbered `n` is new (docs/protocol.md#replay-and-sequence-numbers), and
   * remembers it. A number at most SEQ_WINDOW below the last is one already seen (the overlap of
   * replay and live traffic). One further below is another numbering — a new mouth whose clock
   * went back, or a last number that was forged — and starts over from it, so a parent whose
   * numbers go backwards never silences this node. A number from the future (beyond the clock plus
   * SEQ_FUTURE_MS, in microseconds as the mouth counts) is forged: the message is delivered, its
   * number neither remembered nor saved.
   */
  private seenSeq(network: string, n: number): boolean {
    if (n > seqFutureLimit()) {
      this.counters.seq_forged = (this.counters.seq_forged ?? 0) + 1;
      this.logRefusal(`seq_forged:${network}`, { network, seq: n }, 'hive.seq from the future: not remembered');
      return true;
    }
    const last = this.lastSeq.get(network);
    // Bounded: a parent naming ever new networks (a forged hive.network) is not remembered past MAX_SEQ_NETWORKS.
    if (last === undefined && this.lastSeq.size >= MAX_SEQ_NETWORKS) {
      this.counters.seq_untracked = (this.counters.seq_untracked ?? 0) + 1;
      this.logRefusal('seq_untracked', { network }, `hive.seq of more than ${MAX_SEQ_NETWORKS} networks: not remembered`);
      return true;
    }
    if (last !== undefined && n <= last) {
      if (last - n <= SEQ_WINDOW) return false; // already seen (replay overlap)
      this.counters.seq_reset = (this.counters.seq_reset ?? 0) + 1;
      this.logRefusal(`seq_reset:${network}`, { network, last, seq: n }, 'hive.seq went back: a new numbering; starting over from it');
    }
    this.lastSeq.set(network, n);
    this.scheduleSeqSave();
    return true;
  }

  // ---- up ------------------------------------------------------------------------------

  /** Passes a child's message up to the parent (which adds this node to its path, docs/protocol.md#path-and-origin). */
  async passUp(wire: WireMessage): Promise<void> {
    await this.sendToParent(wire);
    this.counters.out++;
  }

  /**
   * Sends up. When the parent is gone (it died with the call pending, or there is none right now),
   * waits for the next parent and tries once more, marked hive.replayed: the old parent may have
   * passed it on before it died, and the mouth sends only the first of two such replies.
   */
  private async sendToParent(wire: WireMessage): Promise<DBusMessage> {
    try {
      return await this.callSend(wire);
    } catch (err) {
      if (err instanceof HiveError && err.code === 'NotChild' && !this.stopping) {
        // The parent does not know this node (another connection attached under its name, or the
        // parent lost it): take the place back and send once more.
        await this.regainPlace();
        return this.callSend(wire);
      }
      if (!parentGone(err) || this.stopping) throw err;
      this.log.warn({ reason: (err as Error).message }, 'parent gone while sending; retrying with the next parent');
      await this.waitAttached(this.callTimeoutMs);
      wire[1]['hive.replayed'] = REPLAYED;
      return this.callSend(wire);
    }
  }

  private callSend(wire: WireMessage): Promise<DBusMessage> {
    const parent = this.parentUnique;
    if (!parent) return Promise.reject(new HiveError('NoParent', `node '${this.name}' has no live parent${this.parentName ? ` (waiting for ${this.parentName})` : ''}`));
    return callHiveMethod(this.bus, { destination: parent, path: NODE_PATH, interface: NODE_INTERFACE, member: 'Send' }, wire, this.callTimeoutMs);
  }

  private readonly attachWaiters = new Set<() => void>();
  private placeRefusals: number[] = [];
  private regaining: Promise<void> | undefined;

  /**
   * Attaches again after the parent refused this node as a child (docs/protocol.md#refused-as-a-child):
   * at once the first time, then with backoff; refused more than MAX_REATTACH times within
   * PLACE_WINDOW_MS, it gives up: onLostPlace (the process exits 3 and is restarted).
   */
  private regainPlace(): Promise<void> {
    if (this.regaining) return this.regaining;
    const now = Date.now();
    this.placeRefusals = this.placeRefusals.filter((t) => now - t < PLACE_WINDOW_MS);
    this.placeRefusals.push(now);
    this.counters.refused_as_child = (this.counters.refused_as_child ?? 0) + 1;
    const n = this.placeRefusals.length;
    if (n > MAX_REATTACH) {
      this.log.error({ parent: this.parentName, refusals: n, withinMs: PLACE_WINDOW_MS }, 'refused as a child again and again; giving up this place');
      this.onLostPlace?.();
      return Promise.reject(new HiveError('NotChild', `node '${this.name}' was refused as a child of ${this.parentName} ${n} times within ${PLACE_WINDOW_MS / 1000} s`));
    }
    const delay = n === 1 ? 0 : REATTACH_BACKOFF_MS * 2 ** (n - 2);
    this.log.warn({ parent: this.parentName, attempt: n, delayMs: delay }, 'refused as a child by the parent; attaching again');
    this.regaining = (async () => {
      if (delay) await new Promise((r) => setTimeout(r, delay));
      if (this.stopping) throw new HiveError('NotChild', `node '${this.name}' is stopping`);
      this.parentGeneration++;
      this.parentUnique = undefined;
      await this.attach();
    })().finally(() => { this.regaining = undefined; });
    return this.regaining;
  }

  /** Resolves once the node is attached to a parent; fails with NoParent after `timeoutMs`. */
  waitAttached(timeoutMs: number): Promise<void> {
    if (this.parentUnique && !this.catchingUp) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = () => { clearTimeout(timer); this.attachWaiters.delete(done); resolve(); };
      const timer = setTimeout(() => {
        this.attachWaiters.delete(done);
        reject(new HiveError('NoParent', `node '${this.name}' found no parent within ${timeoutMs} ms`));
      }, timeoutMs);
      this.attachWaiters.add(done);
    });
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
      await this.sendToParent(wire);
      this.counters.out++;
    } catch (err) {
      this.counters.errors++;
      throw err;
    }
  }

  private async callParent(member: string, signature: string, body: unknown[]): Promise<DBusMessage> {
    const parent = this.parentUnique;
    if (!parent) throw new HiveError('NoParent', `node '${this.name}' has no live parent${this.parentName ? ` (waiting for ${this.parentName})` : ''}`);
    return callWithDeadline(this.bus, { destination: parent, path: NODE_PATH, interface: NODE_INTERFACE, member, signature, body }, this.callTimeoutMs);
  }

  // ---- parent --------------------------------------------------------------------------

  /** Follows a new parent (a bus name; '' for none) and attaches to it if it is on the bus. */
  async setParent(parent: string): Promise<void> {
    const oldName = this.parentName;
    const oldUnique = this.parentUnique;
    this.parentGeneration++;
    this.parentName = parent;
    this.parentUnique = undefined;
    if (oldUnique) {
      await removeMatch(this.bus, this.signalRule(oldUnique));
      this.rules.delete(this.signalRule(oldUnique));
      if (oldUnique !== (await nameOwner(this.bus, parent).catch(() => undefined))) {
        void callWithDeadline(this.bus, { destination: oldUnique, path: NODE_PATH, interface: NODE_INTERFACE, member: 'Detach' }, 1000).catch(() => undefined);
      }
    }
    if (oldName && oldName !== parent) await this.dropRule(ownerRule(oldName));
    if (!parent) return;
    if (oldName !== parent) await this.addRule(ownerRule(parent));
    await this.attach();
  }

  private async attach(): Promise<void> {
    const generation = this.parentGeneration;
    const unique = await nameOwner(this.bus, this.parentName);
    if (generation !== this.parentGeneration) return;
    if (!unique) throw new HiveError('NoParent', `parent ${this.parentName} is not on the bus`);
    const rule = this.signalRule(unique);
    await this.addRule(rule);
    this.parentUnique = unique;
    this.catchingUp = [];
    try {
      await this.callParent('Attach', 'ss', [this.name, this.opts.token]);
      if (generation !== this.parentGeneration) return;
      this.log.info({ parent: this.parentName }, 'attached to parent');
      await this.catchUp();
    } catch (err) {
      if (generation === this.parentGeneration) {
        this.parentUnique = undefined;
        await this.dropRule(rule);
      }
      throw err;
    } finally {
      const live = this.catchingUp ?? [];
      this.catchingUp = undefined;
      for (const wire of live) this.handleParentMessage(wire);
    }
    for (const w of [...this.attachWaiters]) w();
    this.onAttached?.(this.parentName);
  }

  /** Asks the new parent for what this node missed while it had no parent. */
  private async catchUp(): Promise<void> {
    for (const [network, after] of this.lastSeq) {
      try {
        const reply = await this.callParent('Replay', 'st', [network, BigInt(after)]);
        const [missed, complete] = reply.body as [WireMessage[], boolean];
        if (!complete) {
          this.counters.lost++;
          this.log.error({ network, after }, 'messages lost: the parent\'s replay buffer no longer reaches back');
        }
        if (missed.length) this.log.info({ network, count: missed.length }, 'caught up from replay');
        const live = this.catchingUp;
        this.catchingUp = undefined;
        for (const wire of missed) {
          wire[1]['hive.replayed'] = REPLAYED;
          this.handleParentMessage(wire);
        }
        this.catchingUp = live;
      } catch (err) {
        this.counters.lost++;
        this.log.error({ err, network }, 'replay failed; messages may have been missed');
      }
    }
  }

  private get seqFile(): string | undefined {
    return this.opts.stateDir ? join(this.opts.stateDir, '.hive-seq.json') : undefined;
  }

  private async restoreSeq(): Promise<void> {
    const file = this.seqFile;
    if (!file) return;
    const saved = await readJsonFile<unknown>(file, {}, (reason) => this.log.warn({ file, reason }, 'saved sequence numbers unreadable; starting without them'));
    if (!saved || typeof saved !== 'object' || Array.isArray(saved)) return;
    for (const [network, seq] of Object.entries(saved)) {
      if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) continue;
      // A number saved from a forged message (before this check existed) would make the node deaf.
      if (seq > seqFutureLimit()) { this.log.warn({ network, seq }, 'saved hive.seq is from the future; forgotten'); continue; }
      this.lastSeq.set(network, seq);
    }
  }

  /** Saves the last sequence numbers at most every SEQ_SAVE_MS, never on the per-message path. */
  private scheduleSeqSave(): void {
    const file = this.seqFile;
    if (!file || this.seqSaveTimer) return;
    this.seqSaveTimer = setTimeout(() => { this.seqSaveTimer = undefined; void this.saveSeq(); }, SEQ_SAVE_MS);
    this.seqSaveTimer.unref();
  }

  /** One save at a time; stop() awaits the last, so nothing writes into a state dir after it. */
  private saveSeq(): Promise<void> {
    const file = this.seqFile;
    if (!file) return Promise.resolve();
    this.seqSaving = this.seqSaving.then(() => writeFileAtomic(file, JSON.stringify(Object.fromEntries(this.lastSeq))))
      .catch((err) => this.log.warn({ err }, 'cannot save sequence numbers'));
    return this.seqSaving;
  }


  private signalRule(unique: string): string {
    return `type='signal',sender='${unique}',path='${NODE_PATH}',interface='${NODE_INTERFACE}'`;
  }

  private async addRule(rule: string): Promise<void> {
    if (this.rules.has(rule)) return;
    this.rules.add(rule);
    await addMatch(this.bus, rule);
  }

  private async dropRule(rule: string): Promise<void> {
    if (!this.rules.delete(rule)) return;
    await removeMatch(this.bus, rule);
  }

  private onNameOwnerChanged(name: string, newOwner: string): void {
    const joined = this.joined.get(name);
    if (joined) {
      // Another connection took the name: the child joined its new parent (or a node of that name
      // with a connection of its own came). An empty owner is this node letting go of it itself.
      if (newOwner && newOwner !== this.uniqueName) this.forgetJoined(joined, 'child moved', false, { to: newOwner });
      return;
    }
    const child = this.children.get(name);
    if (child && !newOwner) {
      this.children.delete(name);
      void this.dropRule(ownerRule(name));
      this.log.info({ child: child.name }, 'child vanished');
    }
    if (name === this.parentName && !this.stopping) {
      if (!newOwner) {
        if (this.parentUnique) {
          void this.dropRule(this.signalRule(this.parentUnique));
          this.parentUnique = undefined;
          this.parentGeneration++;
          // A parent that said goodbye (Reparent) is expected to go; one that did not has died.
          if (this.parentLeaving) this.log.info({ parent: name }, 'parent gone');
          else this.log.warn({ parent: name }, 'parent lost');
        }
        this.parentLeaving = false;
      } else if (newOwner !== this.parentUnique) {
        this.parentGeneration++;
        this.parentUnique = undefined;
        this.attach().catch((err) => this.log.warn({ err }, 'attach to parent failed'));
      }
    }
  }

  // ---- dispatch ------------------------------------------------------------------------

  private dispatch(msg: DBusMessage): void {
    if (msg.type !== MessageType.SIGNAL) return;
    if (msg.signature === '' && refusalOf(this.bus, msg)) return;
    if (msg.interface === NODE_INTERFACE) {
      // A unicast signal bypasses match rules: act only on the current parent's.
      if (!this.parentUnique || msg.sender !== this.parentUnique) return;
      if (msg.member === 'Message' && msg.signature === '(aaya{sv})') {
        this.handleParentMessage(msg.body[0] as WireMessage);
      } else if (msg.member === 'Reparent' && msg.signature === 's') {
        const to = msg.body[0] as string;
        // An empty parent: there is nowhere to go (the mouth, or a guard that holds its subtree); keep waiting for this one.
        if (!to) { this.parentLeaving = true; this.log.info({ parent: this.parentName }, 'parent going away; waiting for it'); return; }
        this.log.info({ from: this.parentName, to }, 'parent asked us to re-parent');
        this.setParent(to).catch((err) => this.log.warn({ err, parent: to }, 'attach after Reparent failed; waiting'));
      }
    } else if (msg.sender === DBUS.name && msg.member === 'NameOwnerChanged' && msg.interface === DBUS.iface) {
      this.onNameOwnerChanged(msg.body[0] as string, msg.body[2] as string);
    }
  }

  /**
   * Decides from a message's header alone whether its body may be decoded (bus-gate.ts): a call
   * larger than any the node accepts, Send or Replay from a connection that is no child, and a
   * large signal from anyone but the parent and the bus are refused at the cost of the header.
   */
  private gate(h: GateHeader): Refusal | undefined {
    if (h.type === MessageType.METHOD_CALL) {
      // (Calls to the bus name of a child without a connection are answered for it, serveJoined.)
      if ((h.member === 'Send' || h.member === 'Replay') && (h.interface === NODE_INTERFACE || !h.interface)
        && !(h.destination && this.joined.has(h.destination)) && !(h.sender && this.children.has(h.sender))) return 'NotChild';
      if (h.bodyLength > LIMITS.maxCallBodyBytes) return 'TooLarge';
    } else if (h.type === MessageType.SIGNAL) {
      if (h.bodyLength > LIMITS.maxCallBodyBytes && h.sender !== DBUS.name && h.sender !== this.parentUnique) return 'TooLarge';
    }
    return undefined;
  }

  private logRefusal(key: string, fields: Record<string, unknown>, text: string): void {
    const suppressed = this.refusalLog.take(key);
    if (suppressed !== undefined) this.log.warn({ ...fields, ...(suppressed ? { suppressed } : {}) }, text);
  }

  /** Answers a call whose body the gate did not decode, with the named error, counted and logged. */
  private refuseGated(msg: DBusMessage): boolean {
    const refusal = answerUnread(this.bus, msg, LIMITS.maxCallBodyBytes, this.name);
    if (!refusal) return false;
    if (msg.type !== MessageType.METHOD_CALL) return true; // a refused signal: nothing to answer, nothing to act on
    this.counters.errors++;
    const counter = refusal === 'TooLarge' ? 'oversized' : 'not_child';
    this.counters[counter] = (this.counters[counter] ?? 0) + 1;
    this.logRefusal(`${counter}:${msg.sender}`, { caller: msg.sender, member: msg.member }, refusal === 'TooLarge' ? 'call refused unread: body too large' : `${msg.member} refused unread: not a child`);
    return true;
  }

  private serve(): void {
    // First: calls whose body was refused unread (bus-gate.ts) get their error here.
    this.bus.addMethodHandler((msg: DBusMessage) => this.refuseGated(msg));
    // Then: calls to the bus name of a child without a connection are answered for that child.
    this.bus.addMethodHandler((msg: DBusMessage) => this.serveJoined(msg));
    serveObject(this.bus, {
      path: NODE_PATH,
      spec: NODE1,
      log: this.log,
      uncheckedSignatures: ['Send', 'SendAs'],
      properties: () => this.properties(),
      methods: {
        Send: (msg) => this.handleSend(msg),
        Attach: (msg) => {
          const [name, token] = msg.body as [string, string];
          this.checkToken(token);
          if (!NAME_PATTERN.test(name)) throw new HiveError('InvalidArgs', `Attach: node name '${name}' is not valid`);
          for (const [unique, c] of this.children) {
            if (c.name === name && unique !== msg.sender) { this.children.delete(unique); void this.dropRule(ownerRule(unique)); }
          }
          this.children.set(msg.sender, { name, unique: msg.sender });
          const joined = this.joined.get(nodeBusName(this.opts.instance, name));
          if (joined) this.forgetJoined(joined, 'child replaced by one with a connection', true);
          // Watch the child's name before confirming, and make sure it did not vanish meanwhile.
          return loadMetaSchemas()
            .then(() => this.addRule(ownerRule(msg.sender)))
            .then(() => nameOwner(this.bus, msg.sender))
            .then((owner) => {
              if (!owner) { this.children.delete(msg.sender); throw new HiveError('Failed', 'caller left during Attach'); }
              this.log.info({ child: name }, 'child attached');
              return [];
            });
        },
        Detach: (msg) => {
          const child = this.children.get(msg.sender);
          if (child) {
            this.children.delete(msg.sender);
            void this.dropRule(ownerRule(msg.sender));
            this.log.info({ child: child.name }, 'child detached');
          }
        },
        SetParent: async (msg) => {
          const [parent, token] = msg.body as [string, string];
          this.checkToken(token);
          this.log.info({ from: this.parentName, to: parent }, 'SetParent');
          await this.setParent(parent);
        },
        Replay: (msg) => {
          if (!this.children.has(msg.sender)) throw new HiveError('NotChild', `Replay: ${msg.sender} is not an attached child of '${this.name}'`);
          const [network, after] = msg.body as [string, bigint];
          const r = this.replay.since(network, Number(after));
          return [r.wires, r.complete];
        },
        Join: (msg) => {
          // One at a time: a Join may give up and take again a bus name, which another must not interleave.
          const done = this.joinChain.then(() => this.handleJoin(msg));
          this.joinChain = done.catch(() => undefined);
          return done;
        },
        Renew: (msg) => {
          const j = this.joinedByKey(msg.body[0] as string, 'Renew');
          j.expires = Date.now() + this.leaseSeconds * 1000;
          return [this.leaseSeconds];
        },
        SendAs: (msg) => this.handleSendAs(msg),
        Leave: (msg) => {
          const j = this.joinKeys.get(msg.body[0] as string);
          if (j) this.forgetJoined(j, 'child left', true);
        },
      },
    });
  }

  // ---- children without a connection (docs/protocol.md#a-node-without-a-connection) ---------

  private async handleJoin(msg: DBusMessage): Promise<unknown[]> {
    const [name, token, info] = msg.body as [string, string, Record<string, InstanceType<typeof Variant>>];
    this.checkToken(token);
    // A stopping node would let the name go with its connection right after: join the next parent.
    if (this.stopping) throw new HiveError('Failed', `Join: '${this.name}' is stopping`);
    if (!NAME_PATTERN.test(name)) throw new HiveError('InvalidArgs', `Join: node name '${name}' is not valid`);
    if (name === this.name) throw new HiveError('InvalidArgs', `Join: '${name}' is the name of this node itself`);
    const { run, kind, commands } = joinInfo(info);
    const busName = nodeBusName(this.opts.instance, name);
    const previous = this.joined.get(busName);
    if (previous && previous.run === run) {
      // The same run of the child joining again: a repeat, nothing changes but the lease.
      Object.assign(previous, { kind, commands, expires: Date.now() + this.leaseSeconds * 1000 });
      return [previous.key, this.leaseSeconds];
    }
    await loadMetaSchemas();
    for (const [unique, c] of this.children) {
      if (c.name === name && unique !== busName) { this.children.delete(unique); void this.dropRule(ownerRule(unique)); }
    }
    if (previous) {
      // Another run (the child was restarted): give the name up and take it again, so that the
      // supervisor, which counts a node as up when its name gets an owner, sees the new run come up.
      this.forgetJoined(previous, 'child restarted', false);
      await this.bus.releaseName(busName).catch(() => undefined);
    }
    await this.addRule(ownerRule(busName));
    const reply = await this.bus.requestName(busName, 0x1 | 0x2 | 0x4); // as the node would itself: ALLOW_REPLACEMENT | REPLACE_EXISTING | DO_NOT_QUEUE
    if (reply !== 1 && reply !== 4) {
      await this.dropRule(ownerRule(busName));
      throw new HiveError('Failed', `Join: cannot hold the bus name ${busName} for '${name}': its owner does not let it go`);
    }
    const j: Joined = {
      name, busName, key: randomBytes(16).toString('hex'), run, kind, commands,
      expires: Date.now() + this.leaseSeconds * 1000, counters: { in: 0, out: 0, dropped: 0, errors: 0 },
      serve: () => false, moved: [],
    };
    j.serve = this.joinedObject(j);
    this.joined.set(busName, j);
    this.joinKeys.set(j.key, j);
    this.children.set(busName, { name, unique: busName });
    this.leaseTimer ??= setInterval(() => this.expireLeases(), Math.min(1000, this.leaseSeconds * 250));
    this.leaseTimer.unref();
    this.log.info({ child: name, connectionless: true }, 'child joined');
    return [j.key, this.leaseSeconds];
  }

  private handleSendAs(msg: DBusMessage): Promise<void> {
    if (msg.signature !== 's(aaya{sv})') {
      this.counters.errors++;
      throw new HiveError('InvalidMessage', `SendAs: signature '${msg.signature ?? ''}'; expected 's(aaya{sv})'`);
    }
    const j = this.joinedByKey(msg.body[0] as string, 'SendAs');
    j.expires = Date.now() + this.leaseSeconds * 1000;
    let wire: WireMessage;
    try {
      wire = checkWireMessage('(aaya{sv})', [msg.body[1]]);
      this.stampSender(wire, j.name);
    } catch (err) {
      this.counters.errors++;
      j.counters.errors++;
      this.logRefusal(`invalid:${j.name}`, { reason: (err as Error).message, child: j.name }, 'SendAs refused: invalid message');
      throw err;
    }
    this.counters.in++;
    j.counters.out++;
    return this.onUp(wire, { name: j.name, unique: j.busName }).catch((err: unknown) => {
      this.counters.dropped++;
      j.counters.dropped++;
      this.log.warn({ err, child: j.name }, 'message from child not delivered');
      throw err;
    });
  }

  private joinedByKey(key: string, method: string): Joined {
    const j = this.joinKeys.get(key);
    if (j) return j;
    this.counters.errors++;
    this.log.warn({ method }, `${method} refused: no child joined with that key`);
    throw new HiveError('NotChild', `${method}: no child of '${this.name}' joined with that key (it was forgotten, or joined another parent); call Join again`);
  }

  /** The object this node serves at the child's bus name: the child's properties, and SetParent. */
  private joinedObject(j: Joined): (msg: DBusMessage) => boolean {
    let handler: (msg: DBusMessage) => boolean = () => false;
    const facade = { addMethodHandler: (fn: typeof handler) => { handler = fn; }, send: (m: DBusMessage) => this.bus.send(m) };
    const notHere = () => {
      throw new HiveError('InvalidArgs', `'${j.name}' has no connection of its own: its parent '${this.name}' answers for it, properties and SetParent only`);
    };
    serveObject(facade as unknown as MessageBus, {
      path: NODE_PATH,
      spec: NODE1,
      log: this.log,
      properties: () => ({
        Name: j.name,
        Kind: j.kind,
        Parent: this.busName,
        Children: [],
        Commands: j.commands,
        Counters: Object.fromEntries(Object.entries(j.counters).map(([k, v]) => [k, BigInt(v)])),
        Details: detailVariants({ connectionless: true }),
      }),
      methods: {
        SetParent: (msg) => this.moveJoined(j, msg),
        Send: notHere, Attach: notHere, Detach: notHere, Replay: notHere, Join: notHere, Renew: notHere, SendAs: notHere, Leave: notHere,
      },
    });
    return (msg) => handler(msg);
  }

  private serveJoined(msg: DBusMessage): boolean {
    const j = msg.destination ? this.joined.get(msg.destination) : undefined;
    if (!j) return false;
    if (j.serve(msg)) return true;
    if (msg.interface === 'org.freedesktop.DBus.Peer') return false; // Ping: dbus-next answers for the connection
    this.bus.send(Message.newError(msg as unknown as string, 'org.freedesktop.DBus.Error.UnknownMethod', `${msg.interface ?? '(no interface)'}.${msg.member} is not served at ${msg.path} for '${j.name}'`));
    return true;
  }

  /**
   * SetParent for a child without a connection: it cannot be called, so this node tells it with
   * the MoveChild signal, and answers once its new parent has taken its bus name.
   */
  private async moveJoined(j: Joined, msg: DBusMessage): Promise<void> {
    const [parent, token] = msg.body as [string, string];
    this.checkToken(token);
    if (!parent) throw new HiveError('InvalidArgs', `SetParent: '${j.name}' has no connection of its own and needs a parent to answer for it`);
    if (parent === this.busName || parent === this.uniqueName) return;
    this.log.info({ child: j.name, to: parent }, 'asking a child without a connection to move');
    await new Promise<void>((resolve, reject) => {
      const done = () => { clearTimeout(timer); resolve(); };
      const timer = setTimeout(() => {
        j.moved = j.moved.filter((d) => d !== done);
        reject(new HiveError('Timeout', `SetParent: '${j.name}' did not join ${parent} within ${MOVE_WAIT_MS} ms`));
      }, MOVE_WAIT_MS);
      j.moved.push(done);
      this.bus.send(Message.newSignal(NODE_PATH, NODE_INTERFACE, 'MoveChild', 'ss', [j.name, parent]));
    });
  }

  private forgetJoined(j: Joined, why: string, release: boolean, fields: Record<string, unknown> = {}): void {
    if (this.joined.get(j.busName) !== j) return;
    this.joined.delete(j.busName);
    this.joinKeys.delete(j.key);
    this.children.delete(j.busName);
    void this.dropRule(ownerRule(j.busName));
    if (release) void this.bus.releaseName(j.busName).catch(() => undefined);
    for (const done of j.moved.splice(0)) done();
    if (this.joined.size === 0 && this.leaseTimer) { clearInterval(this.leaseTimer); this.leaseTimer = undefined; }
    this.log[why === 'lease expired' ? 'warn' : 'info']({ child: j.name, connectionless: true, ...fields }, why);
  }

  private expireLeases(): void {
    const now = Date.now();
    for (const j of [...this.joined.values()]) if (j.expires < now) this.forgetJoined(j, 'lease expired', true);
  }

  private handleSend(msg: DBusMessage): Promise<void> {
    const child = this.children.get(msg.sender);
    if (!child) {
      this.counters.errors++;
      this.counters.not_child = (this.counters.not_child ?? 0) + 1;
      this.logRefusal(`not_child:${msg.sender}`, { caller: msg.sender }, 'Send refused: not a child');
      throw new HiveError('NotChild', `Send: ${msg.sender} is not an attached child of '${this.name}'; call Attach first`);
    }
    let wire: WireMessage;
    try {
      wire = checkWireMessage(msg.signature, msg.body);
      this.stampSender(wire, child.name);
    } catch (err) {
      this.counters.errors++;
      this.logRefusal(`invalid:${child.name}`, { reason: (err as Error).message, child: child.name }, 'Send refused: invalid message');
      throw err;
    }
    this.counters.in++;
    return this.onUp(wire, child).catch((err: unknown) => {
      this.counters.dropped++;
      this.log.warn({ err, child: child.name }, 'message from child not delivered');
      throw err;
    });
  }

  /**
   * Path and origin from the verified sender, never from the body alone (docs/protocol.md#path-and-origin):
   * the last element of hive.path is the child the message came from (appended unless the body's
   * path already ends with it), and hive.origin must be an element of that path, else it is path[0].
   * What comes before the child's name is the child's claim about its own subtree.
   */
  private stampSender(wire: WireMessage, child: string): void {
    const meta = wire[1];
    const claimed = (meta['hive.path']?.value as string[] | undefined) ?? [];
    const path = claimed[claimed.length - 1] === child ? claimed : [...claimed, child];
    if (path.length > MAX_PATH) throw new HiveError('InvalidMessage', `metadata 'hive.path': ${path.length} nodes with '${child}'; at most ${MAX_PATH}`);
    if (path !== claimed) meta['hive.path'] = new Variant('as', path);
    const origin = meta['hive.origin']?.value;
    if (typeof origin !== 'string' || !path.includes(origin)) {
      if (origin !== undefined) {
        this.counters.forged_origin = (this.counters.forged_origin ?? 0) + 1;
        this.logRefusal(`origin:${child}`, { child, claimed: String(origin).slice(0, 64), path }, 'hive.origin not on the path; replaced by the first node of the path');
      }
      meta['hive.origin'] = new Variant('s', path[0]!);
    }
  }

  private checkToken(token: string): void {
    if (token !== this.opts.token) throw new HiveError('BadToken', 'the token does not match this hive');
  }

  private properties(): Record<string, unknown> {
    const counters: Record<string, bigint> = {};
    for (const [k, v] of Object.entries(this.counters)) counters[k] = BigInt(v);
    return {
      Name: this.name,
      Kind: this.kind,
      Parent: this.parentName,
      Children: [...this.children.values()].map((c) => [c.name, c.unique]),
      Commands: this.commands,
      Counters: counters,
      Details: detailVariants(this.details()),
    };
  }

  // ---- shutdown ------------------------------------------------------------------------

  /** Tells the children where to go (Reparent with this node's parent), detaches and disconnects. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (!this.bus) return;
    this.bus.send(Message.newSignal(NODE_PATH, NODE_INTERFACE, 'Reparent', 's', [this.reparentTarget()]));
    // Children without a connection have their bus names on this one: give them time to join the
    // next parent, which takes the names over, or the supervisor would see them vanish.
    if (this.joined.size !== 0 && this.reparentTarget()) {
      const deadline = Date.now() + FOLLOW_WAIT_MS;
      while (this.joined.size !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    }
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    if (this.seqSaveTimer) { clearTimeout(this.seqSaveTimer); this.seqSaveTimer = undefined; await this.saveSeq(); }
    else await this.seqSaving;
    if (this.parentUnique) await this.callParent('Detach', '', []).catch(() => undefined);
    // With a deadline: dbus-next never answers a call whose connection died meanwhile (the bus
    // going down with the supervisor), and a node that hangs here would outlive its hive.
    await callBus(this.bus, 'ReleaseName', 's', [this.busName], 1000).catch(() => undefined);
    this.bus.disconnect();
    this.log.info('node stopped');
  }

  private reparentTarget(): string {
    return this.opts.holdOnDeath ? '' : this.parentName;
  }

  /** The fault handler: tell the children where to go before the process dies. */
  emitReparentNow(): void {
    try {
      this.bus?.send(Message.newSignal(NODE_PATH, NODE_INTERFACE, 'Reparent', 's', [this.reparentTarget()]));
    } catch { /* the process is dying anyway */ }
  }
}

const GONE = new Set(['org.freedesktop.DBus.Error.NoReply', 'org.freedesktop.DBus.Error.ServiceUnknown', 'org.freedesktop.DBus.Error.NameHasNoOwner', 'org.freedesktop.DBus.Error.Disconnected']);

/** An error that says the parent went away, not that it refused the message. */
function parentGone(err: unknown): boolean {
  if (!(err instanceof HiveError)) return false;
  // Not Timeout: a slow parent that is still there may yet deliver, and a retry would duplicate.
  if (err.code === 'NoParent') return true;
  const type = (err.cause as { type?: string } | undefined)?.type;
  return err.code === 'Failed' && type !== undefined && GONE.has(type);
}

function ownerRule(name: string): string {
  return `type='signal',sender='${DBUS.name}',interface='${DBUS.iface}',member='NameOwnerChanged',arg0='${name}'`;
}

function appendPath(wire: WireMessage, name: string): void {
  const path = wire[1]['hive.path'];
  wire[1]['hive.path'] = new Variant('as', path ? [...(path.value as string[]), name] : [name]);
}

/** What a child without a connection tells about itself in Join's `info`. */
function joinInfo(info: Record<string, InstanceType<typeof Variant>> | undefined): { run: string; kind: string; commands: [string, string][] } {
  const get = (key: string, signature: string): unknown => {
    const v = info?.[key];
    if (v === undefined) return undefined;
    if (v.signature !== signature) throw new HiveError('InvalidArgs', `Join: info '${key}' has type '${v.signature}'; expected '${signature}'`);
    return v.value;
  };
  const run = get('run', 's') as string | undefined;
  if (!run || run.length > 128) throw new HiveError('InvalidArgs', "Join: info needs 'run' (s, 1-128 characters): an id of this run of the child, such as its PID and start time");
  const kind = (get('kind', 's') as string | undefined) ?? 'responder';
  if (!JOIN_KINDS.has(kind)) throw new HiveError('InvalidArgs', `Join: kind '${kind}': a node without a connection is a responder or an automaton (it cannot have children)`);
  const commands = (get('commands', 'a(ss)') as [string, string][] | undefined) ?? [];
  if (commands.length > 64 || commands.some(([c, h]) => !c || c.length > 64 || h.length > 512)) {
    throw new HiveError('InvalidArgs', 'Join: commands: at most 64, each a name of 1-64 characters and a help of at most 512');
  }
  return { run, kind, commands };
}

/** A value of the Details property: a string, an integer, a flag, a list of strings or counts by name. */
export type DetailValue = string | number | boolean | string[] | Record<string, number>;

function detailVariants(details: Record<string, DetailValue>): Record<string, InstanceType<typeof Variant>> {
  const out: Record<string, InstanceType<typeof Variant>> = {};
  for (const [k, v] of Object.entries(details)) {
    if (typeof v === 'string') out[k] = new Variant('s', v);
    else if (typeof v === 'boolean') out[k] = new Variant('b', v);
    else if (typeof v === 'number') out[k] = Number.isInteger(v) ? new Variant('x', BigInt(v)) : new Variant('d', v);
    else if (Array.isArray(v)) out[k] = new Variant('as', v.map(String));
    else out[k] = new Variant('a{sx}', Object.fromEntries(Object.entries(v).map(([n, c]) => [n, BigInt(Math.round(c))])));
  }
  return out;
}
