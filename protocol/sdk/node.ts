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
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import { encode, type WireMessage } from '../codec.js';
import { HiveError } from '../errors.js';
import { newMessageId, type HiveMessage } from '../hive-message.js';
import { NODE_INTERFACE, NODE_PATH, NAME_PATTERN, nodeBusName } from '../names.js';
import { NODE1 } from '../node1.js';
import { checkLines, checkMeta, checkWireMessage, loadMetaSchemas } from '../validate.js';
import {
  DBUS, Message, MessageType, Variant, addMatch, callHiveMethod, callWithDeadline, connectBus, emitHiveSignal, nameOwner, removeMatch,
  type DBusMessage, type MessageBus,
} from './bus.js';
import { ReplayBuffer } from './replay-buffer.js';
import { readJsonFile, writeFileAtomic } from './state-file.js';
import { serveObject } from './service.js';

const SEQ_SAVE_MS = 100;
const REPLAYED = new Variant('b', true);

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
}

export interface ChildInfo { name: string; unique: string }

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
  private parentLeaving = false;

  constructor(private readonly opts: NodeOptions) {
    if (!NAME_PATTERN.test(opts.name)) throw new HiveError('InvalidArgs', `node name '${opts.name}': expected letters, digits and _ starting with a letter`);
    this.name = opts.name;
    this.kind = opts.kind;
    this.log = opts.log;
    this.busName = nodeBusName(opts.instance, opts.name);
    this.commands = opts.commands ?? [];
    this.callTimeoutMs = opts.callTimeoutMs ?? 10_000;
    this.replay = new ReplayBuffer(opts.replaySize ?? 512);
  }

  get parent(): string { return this.parentName; }
  get attached(): boolean { return this.parentUnique !== undefined; }

  /** Connects, takes the node's bus name, and attaches to the parent if there is one. */
  async start(): Promise<void> {
    await this.restoreSeq();
    this.bus = await connectBus(this.opts.busAddress);
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
      if (network) {
        const n = Number(seq.value);
        const last = this.lastSeq.get(network);
        if (last !== undefined && n <= last) return; // already seen (replay overlap)
        this.lastSeq.set(network, n);
        this.scheduleSeqSave();
      }
    }
    this.counters.in++;
    try {
      this.onDown(wire);
    } catch (err) {
      this.counters.errors++;
      this.log.error({ err }, 'message handler failed');
    }
  }

  // ---- up ------------------------------------------------------------------------------

  /** Passes a child's message up to the parent, with this node added to its path. */
  async passUp(wire: WireMessage): Promise<void> {
    appendPath(wire, this.name);
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

  /** Sends a message this node made up to its parent; fills in id, origin and path. */
  async send(msg: HiveMessage): Promise<void> {
    const meta = msg.meta;
    meta['hive.id'] ??= newMessageId(this.name);
    meta['hive.origin'] ??= this.name;
    meta['hive.path'] = [this.name];
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
    try {
      const saved = await readJsonFile<Record<string, number>>(file, {});
      for (const [network, seq] of Object.entries(saved)) if (typeof seq === 'number') this.lastSeq.set(network, seq);
    } catch (err) {
      this.log.warn({ err }, 'cannot read the saved sequence numbers; starting without');
    }
  }

  /** Saves the last sequence numbers at most every SEQ_SAVE_MS, never on the per-message path. */
  private scheduleSeqSave(): void {
    const file = this.seqFile;
    if (!file || this.seqSaveTimer) return;
    this.seqSaveTimer = setTimeout(() => {
      this.seqSaveTimer = undefined;
      writeFileAtomic(file, JSON.stringify(Object.fromEntries(this.lastSeq))).catch((err) => this.log.warn({ err }, 'cannot save sequence numbers'));
    }, SEQ_SAVE_MS);
    this.seqSaveTimer.unref();
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

  private serve(): void {
    serveObject(this.bus, {
      path: NODE_PATH,
      spec: NODE1,
      log: this.log,
      uncheckedSignatures: ['Send'],
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
      },
    });
  }

  private handleSend(msg: DBusMessage): Promise<void> {
    const child = this.children.get(msg.sender);
    if (!child) {
      this.counters.errors++;
      this.log.warn({ caller: msg.sender }, 'Send refused: not a child');
      throw new HiveError('NotChild', `Send: ${msg.sender} is not an attached child of '${this.name}'; call Attach first`);
    }
    let wire: WireMessage;
    try {
      wire = checkWireMessage(msg.signature, msg.body);
    } catch (err) {
      this.counters.errors++;
      this.log.warn({ err, child: child.name }, 'Send refused: invalid message');
      throw err;
    }
    this.counters.in++;
    return this.onUp(wire, child).catch((err: unknown) => {
      this.counters.dropped++;
      this.log.warn({ err, child: child.name }, 'message from child not delivered');
      throw err;
    });
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
    if (this.parentUnique) await this.callParent('Detach', '', []).catch(() => undefined);
    await this.bus.releaseName(this.busName).catch(() => undefined);
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
