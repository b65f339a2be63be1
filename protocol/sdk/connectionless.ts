/**
 * Children without a connection of their own (docs/protocol.md#a-node-without-a-connection): a
 * shell script whose every `gdbus call` is a new connection joins with its credential (checked by
 * node-context.ts: in vouch mode the supervisor vouches for it) instead of attaching, and sends, renews and leaves with the key Join gave it. The node then holds the
 * child's well-known bus name and answers for it (its properties, SetParent), lists it among its
 * children, and forgets it when its lease runs out without news (Join, Renew, SendAs), when it
 * leaves, when another connection takes its name (it joined its new parent) or when a child of
 * that name attaches with a connection of its own. SetParent on such a child is the MoveChild
 * signal, answered once the new parent took the name.
 */
import { randomBytes } from 'node:crypto';
import type { WireMessage } from '../codec.js';
import { HiveError } from '../errors.js';
import { HIVE_MESSAGE_SIGNATURE, NAME_PATTERN, NODE_INTERFACE, NODE_PATH, nodeBusName } from '../names.js';
import { NODE1 } from '../node1.js';
import { checkWireMessage, loadMetaSchemas } from '../validate.js';
import { Message, Variant, type DBusMessage, type MessageBus } from './bus.js';
import { ownerRule, takeName, type MatchRules } from './bus-names.js';
import type { ChildRegistry } from './child-registry.js';
import { counterValues, detailVariants } from './details.js';
import type { ChildInfo, Counters, NodeContext } from './node-context.js';
import { serveObject } from './service.js';

/** How long a child without a connection stays without news (Join, Renew, SendAs) before it is forgotten. */
export const LEASE_SECONDS = 30;
/** How long SetParent on such a child waits for it to join its new parent (the supervisor waits 5 s). */
const MOVE_WAIT_MS = 4000;
/** How long a stopping node waits for such children to follow its Reparent before it lets go of their names. */
const FOLLOW_WAIT_MS = 3000;
const JOIN_KINDS = new Set(['responder', 'automaton']);
const SEND_AS_SIGNATURE = `s${HIVE_MESSAGE_SIGNATURE}`;

interface Joined {
  name: string;
  busName: string;
  /** The secret SendAs, Renew and Leave carry, new at every Join: the credential is needed only to join. */
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

export interface ConnectionlessOptions {
  registry: ChildRegistry;
  rules: MatchRules;
  /** Where a child's message goes (HiveNode.onUp, read at each call). */
  up: (wire: WireMessage, child: ChildInfo) => Promise<void>;
  /** The lease in seconds (default LEASE_SECONDS). */
  leaseSeconds?: number;
  /** Makes the node take every message from its parent (routes.ts), before a child's Join is answered. */
  widen: () => Promise<void>;
}

export class ConnectionlessChildren {
  /** By bus name and by key. */
  private readonly joined = new Map<string, Joined>();
  private readonly byKey = new Map<string, Joined>();
  private joinChain: Promise<unknown> = Promise.resolve();
  private leaseTimer: NodeJS.Timeout | undefined;
  readonly leaseSeconds: number;

  constructor(private readonly ctx: NodeContext, private readonly o: ConnectionlessOptions) {
    this.leaseSeconds = Math.max(1, Math.round(o.leaseSeconds ?? LEASE_SECONDS));
  }

  get size(): number { return this.joined.size; }

  /** Whether this node answers for the bus name `busName`. */
  holds(busName: string): boolean { return this.joined.has(busName); }

  /** A message went down: every such child heard it. */
  countDown(): void {
    if (this.joined.size !== 0) for (const j of this.joined.values()) j.counters.in++;
  }

  /**
   * Join, one at a time: a Join may give up and take again a bus name, which another must not
   * interleave. The credential is checked before the queue, so that refused Joins never hold it up.
   */
  async join(msg: DBusMessage): Promise<unknown[]> {
    const [name, token] = msg.body as [string, string];
    if (!NAME_PATTERN.test(name)) throw new HiveError('InvalidArgs', `Join: node name '${name}' is not valid`);
    await this.ctx.checkJoin(name, token, msg.sender);
    const done = this.joinChain.then(() => this.o.widen()).then(() => this.handleJoin(msg));
    this.joinChain = done.catch(() => undefined);
    return done;
  }

  renew(msg: DBusMessage): unknown[] {
    this.extendLease(this.byKeyOrRefuse(msg.body[0] as string, 'Renew'));
    return [this.leaseSeconds];
  }

  leave(msg: DBusMessage): void {
    const j = this.byKey.get(msg.body[0] as string);
    if (j) this.forget(j, 'child left', true);
  }

  sendAs(msg: DBusMessage): Promise<void> {
    const { counters } = this.ctx;
    if (msg.signature !== SEND_AS_SIGNATURE) {
      counters.errors++;
      throw new HiveError('InvalidMessage', `SendAs: signature '${msg.signature ?? ''}'; expected '${SEND_AS_SIGNATURE}'`);
    }
    const j = this.byKeyOrRefuse(msg.body[0] as string, 'SendAs');
    this.extendLease(j);
    let wire: WireMessage;
    try {
      wire = checkWireMessage(HIVE_MESSAGE_SIGNATURE, [msg.body[1]]);
      this.o.registry.stamp(wire, j.name);
    } catch (err) {
      counters.errors++;
      j.counters.errors++;
      this.ctx.refused(`invalid:${j.name}`, { reason: (err as Error).message, child: j.name }, 'SendAs refused: invalid message');
      throw err;
    }
    counters.in++;
    j.counters.out++;
    return this.o.up(wire, { name: j.name, unique: j.busName }).catch((err: unknown) => {
      counters.dropped++;
      j.counters.dropped++;
      this.ctx.log.warn({ err, child: j.name }, 'message from child not delivered');
      throw err;
    });
  }

  /** Answers a call addressed to the bus name of such a child; false when it is none of theirs. */
  serveCall(msg: DBusMessage): boolean {
    const j = msg.destination ? this.joined.get(msg.destination) : undefined;
    if (!j) return false;
    if (j.serve(msg)) return true;
    if (msg.interface === 'org.freedesktop.DBus.Peer') return false; // Ping: dbus-next answers for the connection
    this.ctx.bus.send(Message.newError(msg as unknown as string, 'org.freedesktop.DBus.Error.UnknownMethod', `${msg.interface ?? '(no interface)'}.${msg.member} is not served at ${msg.path} for '${j.name}'`));
    return true;
  }

  /** A child named `name` attached with a connection of its own: it replaces one without. */
  replacedByConnection(name: string): void {
    const j = this.joined.get(nodeBusName(this.ctx.instance, name));
    if (j) this.forget(j, 'child replaced by one with a connection', true);
  }

  /**
   * The owner of a watched name changed; true when the name is such a child's. Another connection
   * taking it: the child joined its new parent (or a node of that name with a connection came). An
   * empty owner is this node letting go of it itself.
   */
  ownerChanged(name: string, newOwner: string): boolean {
    const j = this.joined.get(name);
    if (!j) return false;
    if (newOwner && newOwner !== this.ctx.uniqueName) this.forget(j, 'child moved', false, { to: newOwner });
    return true;
  }

  /**
   * On stop, after the Reparent signal: these children's names are on this connection, so give them
   * time to join the next parent, which takes the names over, or the supervisor would see them vanish.
   */
  async waitFollowed(): Promise<void> {
    const deadline = Date.now() + FOLLOW_WAIT_MS;
    while (this.joined.size !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }

  /** Stops the lease timer (stop()). */
  close(): void {
    if (this.leaseTimer) clearInterval(this.leaseTimer);
  }

  private extendLease(j: Joined): void { j.expires = Date.now() + this.leaseSeconds * 1000; }

  private async handleJoin(msg: DBusMessage): Promise<unknown[]> {
    const [name, , info] = msg.body as [string, string, Record<string, InstanceType<typeof Variant>>];
    // A stopping node would let the name go with its connection right after: join the next parent.
    if (this.ctx.stopping) throw new HiveError('Failed', `Join: '${this.ctx.name}' is stopping`);
    if (name === this.ctx.name) throw new HiveError('InvalidArgs', `Join: '${name}' is the name of this node itself`);
    const { run, kind, commands } = joinInfo(info);
    const busName = nodeBusName(this.ctx.instance, name);
    const previous = this.joined.get(busName);
    if (previous && previous.run === run) {
      // The same run of the child joining again: a repeat, nothing changes but the lease.
      Object.assign(previous, { kind, commands });
      this.extendLease(previous);
      return [previous.key, this.leaseSeconds];
    }
    await loadMetaSchemas();
    if (previous) {
      // Another run (the child was restarted): give the name up and take it again, so that the
      // supervisor, which counts a node as up when its name gets an owner, sees the new run come up.
      this.forget(previous, 'child restarted', false);
      await this.ctx.bus.releaseName(busName).catch(() => undefined);
    }
    await this.o.rules.add(ownerRule(busName));
    if (!(await takeName(this.ctx.bus, busName)).owned) {
      await this.o.rules.drop(ownerRule(busName));
      throw new HiveError('Failed', `Join: cannot hold the bus name ${busName} for '${name}': its owner does not let it go`);
    }
    // Only now, holding the name: a Join under the name of a live node (which does not let its name
    // go) must not evict that node from this one's children.
    this.o.registry.replaceNamed(name, busName);
    const j: Joined = {
      name, busName, key: randomBytes(16).toString('hex'), run, kind, commands,
      expires: 0, counters: { in: 0, out: 0, dropped: 0, errors: 0 },
      serve: () => false, moved: [],
    };
    this.extendLease(j);
    j.serve = this.childObject(j);
    this.joined.set(busName, j);
    this.byKey.set(j.key, j);
    this.o.registry.add(busName, name);
    this.leaseTimer ??= setInterval(() => this.expireLeases(), Math.min(1000, this.leaseSeconds * 250));
    this.leaseTimer.unref();
    this.ctx.log.info({ child: name, connectionless: true }, 'child joined');
    return [j.key, this.leaseSeconds];
  }

  private byKeyOrRefuse(key: string, method: string): Joined {
    const j = this.byKey.get(key);
    if (j) return j;
    this.ctx.counters.errors++;
    this.ctx.log.warn({ method }, `${method} refused: no child joined with that key`);
    throw new HiveError('NotChild', `${method}: no child of '${this.ctx.name}' joined with that key (it was forgotten, or joined another parent); call Join again`);
  }

  /** The object this node serves at the child's bus name: the child's properties, and SetParent. */
  private childObject(j: Joined): (msg: DBusMessage) => boolean {
    let handler: (msg: DBusMessage) => boolean = () => false;
    const facade = { addMethodHandler: (fn: typeof handler) => { handler = fn; }, send: (m: DBusMessage) => this.ctx.bus.send(m) };
    const notHere = () => {
      throw new HiveError('InvalidArgs', `'${j.name}' has no connection of its own: its parent '${this.ctx.name}' answers for it, properties and SetParent only`);
    };
    serveObject(facade as unknown as MessageBus, {
      path: NODE_PATH,
      spec: NODE1,
      log: this.ctx.log,
      properties: () => ({
        Name: j.name,
        Kind: j.kind,
        Parent: this.ctx.busName,
        Children: [],
        Commands: j.commands,
        Counters: counterValues(j.counters),
        Details: detailVariants({ connectionless: true }),
      }),
      methods: {
        SetParent: (msg) => this.move(j, msg),
        Send: notHere, Attach: notHere, Detach: notHere, Replay: notHere, Join: notHere, Renew: notHere, SendAs: notHere, Leave: notHere,
      },
    });
    return (msg) => handler(msg);
  }

  /**
   * SetParent for a child without a connection: it cannot be called, so this node tells it with
   * the MoveChild signal, and answers once its new parent has taken its bus name.
   */
  private async move(j: Joined, msg: DBusMessage): Promise<void> {
    const [parent, token] = msg.body as [string, string];
    await this.ctx.checkSetParent(token, msg.sender);
    if (!parent) throw new HiveError('InvalidArgs', `SetParent: '${j.name}' has no connection of its own and needs a parent to answer for it`);
    if (parent === this.ctx.busName || parent === this.ctx.uniqueName) return;
    this.ctx.log.info({ child: j.name, to: parent }, 'asking a child without a connection to move');
    await new Promise<void>((resolve, reject) => {
      const done = () => { clearTimeout(timer); resolve(); };
      const timer = setTimeout(() => {
        j.moved = j.moved.filter((d) => d !== done);
        reject(new HiveError('Timeout', `SetParent: '${j.name}' did not join ${parent} within ${MOVE_WAIT_MS} ms`));
      }, MOVE_WAIT_MS);
      j.moved.push(done);
      this.ctx.bus.send(Message.newSignal(NODE_PATH, NODE_INTERFACE, 'MoveChild', 'ss', [j.name, parent]));
    });
  }

  private forget(j: Joined, why: string, release: boolean, fields: Record<string, unknown> = {}): void {
    if (this.joined.get(j.busName) !== j) return;
    this.joined.delete(j.busName);
    this.byKey.delete(j.key);
    this.o.registry.remove(j.busName);
    if (release) void this.ctx.bus.releaseName(j.busName).catch(() => undefined);
    for (const done of j.moved.splice(0)) done();
    if (this.joined.size === 0 && this.leaseTimer) { clearInterval(this.leaseTimer); this.leaseTimer = undefined; }
    this.ctx.log[why === 'lease expired' ? 'warn' : 'info']({ child: j.name, connectionless: true, ...fields }, why);
  }

  private expireLeases(): void {
    const now = Date.now();
    for (const j of [...this.joined.values()]) if (j.expires < now) this.forget(j, 'lease expired', true);
  }
}

/** What a child without a connection tells about itself in Join's `info`. */
export function joinInfo(info: Record<string, InstanceType<typeof Variant>> | undefined): { run: string; kind: string; commands: [string, string][] } {
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
