/**
 * A node's link to its parent (docs/protocol.md#attaching): it follows one parent by bus name,
 * hears the Node1 signals of that name's current owner only (match rule on its unique name),
 * attaches with its credential (HIVE_TOKEN) and asks for what it missed (Replay after the last sequence numbers).
 * When the name gets a new owner it attaches again; when the owner goes it waits for the next; the
 * parent's Reparent signal sends it to the parent named (or, empty, keeps it waiting).
 * A parent the supervisor did not name itself (a Reparent's target, a new owner of the name) is
 * attached to only when the supervisor approves it in vouch mode (ctx.approveParent,
 * docs/protocol.md#credentials); refused, the node stays without a parent until SetParent.
 *
 * The up path: Send on the parent. When the parent is gone mid-call (or there is none right now) it
 * waits for the next and tries once more, marked hive.replayed; when the parent says it does not know
 * this node (NotChild) it attaches again, with backoff, and gives the place up when refused again and
 * again (docs/protocol.md#refused-as-a-child).
 *
 * Messages from the parent reach `deliver` in order: those that arrive while catching up are held
 * until the replayed ones went first; a number already seen (sequence-numbers.ts) is dropped.
 */
import type { WireMessage } from '../codec.js';
import { backoffDelay } from '../backoff.js';
import { HiveError } from '../errors.js';
import { MESSAGE_SIGNAL_SIGNATURE, NODE_INTERFACE, NODE_PATH } from '../names.js';
import { Variant, callHiveMethod, callWithDeadline, nameOwner, type DBusMessage } from './bus.js';
import { ownerRule, type MatchRules } from './bus-names.js';
import { subscriptionRules } from './routes.js';
import type { NodeContext } from './node-context.js';
import type { SequenceNumbers } from './sequence-numbers.js';

const REPLAYED = new Variant('b', true);
/** Re-attaching after being refused as a child: at most this many times within PLACE_WINDOW_MS, then give up the place. */
const MAX_REATTACH = 3;
const PLACE_WINDOW_MS = 60_000;
const REATTACH_BACKOFF_MS = 500;

const GONE = new Set(['org.freedesktop.DBus.Error.NoReply', 'org.freedesktop.DBus.Error.ServiceUnknown', 'org.freedesktop.DBus.Error.NameHasNoOwner', 'org.freedesktop.DBus.Error.Disconnected']);

/** The parent does not serve the method (an older protocol): InvalidArgs from a Hive node, UnknownMethod from the bus library of another. */
function unknownMethod(err: unknown): boolean {
  if (!(err instanceof HiveError)) return false;
  const type = (err.cause as { type?: string } | undefined)?.type;
  return err.code === 'InvalidArgs' || type === 'org.freedesktop.DBus.Error.UnknownMethod';
}

/** An error that says the parent went away, not that it refused the message. */
export function parentGone(err: unknown): boolean {
  if (!(err instanceof HiveError)) return false;
  // Not Timeout: a slow parent that is still there may yet deliver, and a retry would duplicate.
  if (err.code === 'NoParent') return true;
  const type = (err.cause as { type?: string } | undefined)?.type;
  return err.code === 'Failed' && type !== undefined && GONE.has(type);
}

/** Exponential backoff of the n-th re-attach within the window: at once, then 500 ms, 1 s, … */
export function reattachDelay(n: number): number {
  // Without jitter: the window allows only MAX_REATTACH tries, so there is nothing to spread.
  return n === 1 ? 0 : backoffDelay(n - 2, { baseMs: REATTACH_BACKOFF_MS, maxMs: Number.MAX_SAFE_INTEGER, jitter: 0 });
}

export interface ParentLinkOptions {
  token: string;
  rules: MatchRules;
  seqs: SequenceNumbers;
  /** A new message from the parent (in order, not seen before), with its route key. */
  deliver: (wire: WireMessage, route: string) => void;
  /** The route key of a message that came without one (a Replay answer carries none). */
  routeOf: (wire: WireMessage) => string;
  /** Attached to a (new) parent. */
  attached: (parent: string) => void;
  /** Refused as a child again and again: the process should end. */
  lostPlace: () => void;
}

export class ParentLink {
  /** The bus name followed ('' for none) and its owner while attached to it. */
  private name = '';
  private unique: string | undefined;
  /** Bumped at every change of parent, so that an attach in flight for the last one gives up. */
  private generation = 0;
  private catchingUp: [WireMessage, string | undefined][] | undefined;
  /** What this node takes from its parent (routes.ts), and the match rules that say so to the current one. */
  private wanted: readonly string[] | 'all' = 'all';
  private held: string[] = [];
  private syncing: Promise<void> = Promise.resolve();
  /** The parent said goodbye (Reparent to nowhere): its going is expected. */
  private leaving = false;
  private readonly attachWaiters = new Set<() => void>();
  private placeRefusals: number[] = [];
  private regaining: Promise<void> | undefined;
  /** The last parent connection the supervisor named or approved: re-attaching to it needs no new check. */
  private approved: string | undefined;

  constructor(private readonly ctx: NodeContext, private readonly o: ParentLinkOptions) {}

  get parentName(): string { return this.name; }
  get wants(): readonly string[] | 'all' { return this.wanted; }

  /**
   * Takes every message from the parent, or those of some route patterns only. Attached, the new
   * rules are in place before the old ones go, so nothing wanted by both is missed in between.
   */
  subscribe(wants: readonly string[] | 'all'): Promise<void> {
    const same = wants === this.wanted || (wants !== 'all' && this.wanted !== 'all'
      && wants.length === this.wanted.length && wants.every((w, i) => w === this.wanted[i]));
    if (same) return this.syncing;
    this.wanted = wants === 'all' ? 'all' : [...wants];
    return this.sync();
  }

  /** Makes the match rules held say `wanted` to the current parent (none without one); one change at a time. */
  private sync(): Promise<void> {
    const run = async () => {
      const next = this.unique ? subscriptionRules(this.unique, this.wanted) : [];
      for (const r of next) await this.o.rules.add(r);
      for (const r of this.held) if (!next.includes(r)) await this.o.rules.drop(r);
      this.held = next;
    };
    this.syncing = this.syncing.then(run, run);
    return this.syncing;
  }

  /** The unique name of the parent attached to, if any. */
  get parentUnique(): string | undefined { return this.unique; }

  /**
   * Follows a new parent (a bus name; '' for none) and attaches to it if it is on the bus.
   * `named`: the supervisor named it (SetParent, the start), so its owner is not checked.
   */
  async setParent(parent: string, named = true): Promise<void> {
    const oldName = this.name;
    const oldUnique = this.unique;
    this.generation++;
    this.name = parent;
    this.unique = undefined;
    const bus = this.ctx.bus;
    if (oldUnique) {
      await this.sync();
      if (oldUnique !== (await nameOwner(bus, parent).catch(() => undefined))) {
        void callWithDeadline(bus, { destination: oldUnique, path: NODE_PATH, interface: NODE_INTERFACE, member: 'Detach' }, 1000).catch(() => undefined);
      }
    }
    if (oldName && oldName !== parent) await this.o.rules.drop(ownerRule(oldName));
    if (!parent) return;
    if (oldName !== parent) await this.o.rules.add(ownerRule(parent));
    await this.attach(named ? 'named' : 'Reparent');
  }

  /** Resolves once attached to a parent (and caught up); fails with NoParent after `timeoutMs`. */
  waitAttached(timeoutMs: number): Promise<void> {
    if (this.unique && !this.catchingUp) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = () => { clearTimeout(timer); this.attachWaiters.delete(done); resolve(); };
      const timer = setTimeout(() => {
        this.attachWaiters.delete(done);
        reject(new HiveError('NoParent', `node '${this.ctx.name}' found no parent within ${timeoutMs} ms`));
      }, timeoutMs);
      this.attachWaiters.add(done);
    });
  }

  /**
   * Sends up. When the parent is gone (it died with the call pending, or there is none right now),
   * waits for the next parent and tries once more, marked hive.replayed: the old parent may have
   * passed it on before it died, and the mouth sends only the first of two such replies.
   */
  async sendUp(wire: WireMessage): Promise<DBusMessage> {
    try {
      return await this.callSend(wire);
    } catch (err) {
      if (err instanceof HiveError && err.code === 'NotChild' && !this.ctx.stopping) {
        // The parent does not know this node (another connection attached under its name, or the
        // parent lost it): take the place back and send once more.
        await this.regainPlace();
        return this.callSend(wire);
      }
      if (!parentGone(err) || this.ctx.stopping) throw err;
      this.ctx.log.warn({ reason: (err as Error).message }, 'parent gone while sending; retrying with the next parent');
      await this.waitAttached(this.ctx.callTimeoutMs);
      wire[1]['hive.replayed'] = REPLAYED;
      return this.callSend(wire);
    }
  }

  /** Detaches from the parent, if attached (stop()); never fails. */
  async detach(): Promise<void> {
    if (this.unique) await this.callParent('Detach', '', []).catch(() => undefined);
  }

  /** A Node1 signal; acted on only when it is the current parent's (a unicast signal bypasses match rules). */
  onSignal(msg: DBusMessage): void {
    if (!this.unique || msg.sender !== this.unique) return;
    if (msg.member === 'Message' && msg.signature === MESSAGE_SIGNAL_SIGNATURE) {
      this.receive(msg.body[1] as WireMessage, msg.body[0] as string);
    } else if (msg.member === 'Reparent' && msg.signature === 's') {
      const to = msg.body[0] as string;
      const log = this.ctx.log;
      // An empty parent: there is nowhere to go (the mouth, or a guard that holds its subtree); keep waiting for this one.
      if (!to) { this.leaving = true; log.info({ parent: this.name }, 'parent going away; waiting for it'); return; }
      log.info({ from: this.name, to }, 'parent asked us to re-parent');
      this.setParent(to, false).catch((err) => log.warn({ err, parent: to }, 'attach after Reparent failed; waiting'));
    }
  }

  /** The owner of a watched name changed: the parent went, or came (back). */
  ownerChanged(name: string, newOwner: string): void {
    if (name !== this.name || this.ctx.stopping) return;
    const log = this.ctx.log;
    if (!newOwner) {
      if (this.unique) {
        this.unique = undefined;
        void this.sync().catch(() => undefined);
        this.generation++;
        // A parent that said goodbye (Reparent) is expected to go; one that did not has died.
        if (this.leaving) log.info({ parent: name }, 'parent gone');
        else log.warn({ parent: name }, 'parent lost');
      }
      this.leaving = false;
    } else if (newOwner !== this.unique) {
      this.generation++;
      this.unique = undefined;
      this.attach('NameOwnerChanged').catch((err) => log.warn({ err }, 'attach to parent failed'));
    }
  }

  private receive(wire: WireMessage, route: string | undefined): void {
    if (this.catchingUp) { this.catchingUp.push([wire, route]); return; }
    if (!this.o.seqs.accept(wire)) return;
    this.o.deliver(wire, route ?? this.o.routeOf(wire));
  }

  private noParent(): HiveError {
    return new HiveError('NoParent', `node '${this.ctx.name}' has no live parent${this.name ? ` (waiting for ${this.name})` : ''}`);
  }

  private callSend(wire: WireMessage): Promise<DBusMessage> {
    const parent = this.unique;
    if (!parent) return Promise.reject(this.noParent());
    return callHiveMethod(this.ctx.bus, { destination: parent, path: NODE_PATH, interface: NODE_INTERFACE, member: 'Send' }, wire, this.ctx.callTimeoutMs);
  }

  private async callParent(member: string, signature: string, body: unknown[]): Promise<DBusMessage> {
    const parent = this.unique;
    if (!parent) throw this.noParent();
    return callWithDeadline(this.ctx.bus, { destination: parent, path: NODE_PATH, interface: NODE_INTERFACE, member, signature, body }, this.ctx.callTimeoutMs);
  }

  /** `how`: 'named' by the supervisor, or what else led here (then the owner must be approved). */
  private async attach(how: 'named' | 'Reparent' | 'NameOwnerChanged' | 'NotChild'): Promise<void> {
    const generation = this.generation;
    const unique = await nameOwner(this.ctx.bus, this.name);
    if (generation !== this.generation) return;
    if (!unique) throw new HiveError('NoParent', `parent ${this.name} is not on the bus`);
    if (how !== 'named' && unique !== this.approved) {
      // Refused: no Attach, so a squatter learns nothing; sends fail with NoParent until SetParent.
      const ok = await this.ctx.approveParent(unique, how);
      if (generation !== this.generation || !ok) return;
    }
    this.approved = unique;
    this.unique = unique;
    // Held from the first rule on: a message that one rule lets in while the next is being added
    // must not count as seen before the catch-up has asked for what came earlier.
    this.catchingUp = [];
    try {
      await this.sync();
      const attached = await this.callParent('Attach', 'ss', [this.ctx.name, this.o.token]);
      if (generation !== this.generation) return;
      this.ctx.log.info({ parent: this.name }, 'attached to parent');
      await this.catchUp(generation);
      // After the catch-up, which started from the floors of the parent before.
      const refused = this.o.seqs.learnFloors(attached.signature === 'a{st}' ? attached.body[0] : undefined);
      if (refused) {
        this.ctx.counters.seq_refused = (this.ctx.counters.seq_refused ?? 0) + refused;
        this.ctx.refused('seq_refused', { parent: this.name, refused }, 'Attach answered hive.seq numbers that cannot be (not numbers, from the future, too many networks); ignored');
      }
    } catch (err) {
      if (generation === this.generation) {
        this.unique = undefined;
        await this.sync();
      }
      throw err;
    } finally {
      const live = this.catchingUp ?? [];
      this.catchingUp = undefined;
      for (const [wire, route] of live) this.receive(wire, route);
    }
    for (const w of [...this.attachWaiters]) w();
    this.o.attached(this.name);
  }

  /** Asks the new parent for what this node missed while it had no parent. */
  private async catchUp(generation: number): Promise<void> {
    const { counters, log } = this.ctx;
    const wants = this.wanted;
    // The networks it has numbers of (live: one replayed in is visited too), then those it knows
    // only the parent's number of, from when it attached (a narrow node may have had no message).
    const floors = this.o.seqs.floorsWithoutNumber();
    const networks = function* (seqs: SequenceNumbers) { yield* seqs.entries(); yield* floors; };
    for (const [network, after] of networks(this.o.seqs)) {
      // Another parent came meanwhile: its own catch-up asks (from the numbers as they are now).
      if (generation !== this.generation) return;
      try {
        // A node that takes some routes only asks for those, and is told it lost only what it wanted.
        const reply = wants === 'all'
          ? await this.callParent('Replay', 'st', [network, BigInt(after)])
          : await this.callParent('ReplayRoutes', 'stas', [network, BigInt(after), wants]).catch((err: unknown) => {
            // A parent that predates routes answers everything; what this node does not want it ignores.
            if (!unknownMethod(err)) throw err;
            return this.callParent('Replay', 'st', [network, BigInt(after)]);
          });
        const [missed, complete] = reply.body as [WireMessage[], boolean];
        if (!complete) {
          counters.lost++;
          log.error({ network, after }, 'messages lost: the parent\'s replay buffer no longer reaches back');
        }
        if (missed.length) log.info({ network, count: missed.length }, 'caught up from replay');
        const live = this.catchingUp;
        this.catchingUp = undefined;
        for (const wire of missed) {
          wire[1]['hive.replayed'] = REPLAYED;
          this.receive(wire, undefined);
        }
        this.catchingUp = live;
      } catch (err) {
        // The parent went (or was replaced) before it answered: nothing is lost yet. The number
        // was not advanced, so the next parent's catch-up asks from it again.
        if (generation !== this.generation || parentGone(err)) {
          log.warn({ err, network, after, parent: this.name }, 'parent gone during the catch-up; the next parent will replay');
          // What the dead parent sent live meanwhile is newer than the gap: taken now it would move
          // the number past it. The next parent replays it with the rest (a newer attach holds its own).
          if (generation === this.generation) this.catchingUp = [];
          return;
        }
        counters.lost++;
        log.error({ err, network, after, parent: this.name }, 'replay failed; messages may have been missed');
      }
    }
  }

  /**
   * Attaches again after the parent refused this node as a child: at once the first time, then with
   * backoff; refused more than MAX_REATTACH times within PLACE_WINDOW_MS, it gives up (lostPlace).
   */
  private regainPlace(): Promise<void> {
    if (this.regaining) return this.regaining;
    const { counters, log } = this.ctx;
    const now = Date.now();
    this.placeRefusals = this.placeRefusals.filter((t) => now - t < PLACE_WINDOW_MS);
    this.placeRefusals.push(now);
    counters.refused_as_child = (counters.refused_as_child ?? 0) + 1;
    const n = this.placeRefusals.length;
    if (n > MAX_REATTACH) {
      log.error({ parent: this.name, refusals: n, withinMs: PLACE_WINDOW_MS }, 'refused as a child again and again; giving up this place');
      this.o.lostPlace();
      return Promise.reject(new HiveError('NotChild', `node '${this.ctx.name}' was refused as a child of ${this.name} ${n} times within ${PLACE_WINDOW_MS / 1000} s`));
    }
    const delay = reattachDelay(n);
    log.warn({ parent: this.name, attempt: n, delayMs: delay }, 'refused as a child by the parent; attaching again');
    this.regaining = (async () => {
      if (delay) await new Promise((r) => setTimeout(r, delay));
      if (this.ctx.stopping) throw new HiveError('NotChild', `node '${this.ctx.name}' is stopping`);
      this.generation++;
      this.unique = undefined;
      await this.attach('NotChild');
    })().finally(() => { this.regaining = undefined; });
    return this.regaining;
  }
}
