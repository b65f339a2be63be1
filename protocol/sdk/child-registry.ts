/**
 * A node's children (docs/protocol.md#attaching): who may Send and Replay. A child with a connection
 * of its own attaches with its credential (checked by node-context.ts) under its unique name, which the bus daemon puts in every
 * header and nobody can forge; the node watches that name and forgets the child when it vanishes or
 * detaches. A second attach under the same node name replaces the first (a restarted child). Send
 * is accepted only from a child, checked at the edge (validate.ts), stamped with the verified sender
 * (sender-stamp.ts) and handed to the node's onUp. Children without a connection (connectionless.ts)
 * are listed here too, under their well-known bus name.
 */
import type { WireMessage } from '../codec.js';
import { HiveError } from '../errors.js';
import { NAME_PATTERN } from '../names.js';
import { checkWireMessage, loadMetaSchemas } from '../validate.js';
import { nameOwner, type DBusMessage } from './bus.js';
import { ownerRule, type MatchRules } from './bus-names.js';
import type { ChildInfo, NodeContext } from './node-context.js';
import { stampSender } from './sender-stamp.js';

export interface ChildRegistryOptions {
  rules: MatchRules;
  /** Where a child's message goes (HiveNode.onUp, read at each call). */
  up: (wire: WireMessage, child: ChildInfo) => Promise<void>;
  /** A child of this name attached with a connection of its own (a connectionless one of that name gives way). */
  attached: (name: string) => void;
  /** Makes the node take every message from its parent (routes.ts): a child may want anything. Done before a child's Attach is answered. */
  widen: () => Promise<void>;
  /** Network → the last number this node passed down: Attach's answer (replay-buffer.ts lastNumbers). */
  lastNumbers: () => Record<string, bigint>;
}

export class ChildRegistry {
  /** By unique bus name (by well-known bus name for a child without a connection). */
  readonly children = new Map<string, ChildInfo>();

  constructor(private readonly ctx: NodeContext, private readonly o: ChildRegistryOptions) {}

  has(unique: string): boolean { return this.children.has(unique); }

  /** Lists a child (no watching: the caller adds the owner rule). */
  add(unique: string, name: string): void { this.children.set(unique, { name, unique }); }

  /** Forgets a child and stops watching its name. */
  remove(unique: string): void {
    this.children.delete(unique);
    void this.o.rules.drop(ownerRule(unique));
  }

  /** Forgets any other child of node name `name` than the one at `keep` (a restarted child replaces its last run). */
  replaceNamed(name: string, keep: string): void {
    for (const [unique, c] of this.children) if (c.name === name && unique !== keep) this.remove(unique);
  }

  /**
   * Attach: lists the caller as a child once its credential was checked (node-context.ts; in vouch
   * mode the caller must own the name's bus name), its name is watched and it is still there.
   */
  async attach(msg: DBusMessage): Promise<unknown[]> {
    const [name, token] = msg.body as [string, string];
    if (!NAME_PATTERN.test(name)) throw new HiveError('InvalidArgs', `Attach: node name '${name}' is not valid`);
    await this.ctx.checkAttach(name, token, msg.sender);
    // Before the child is listed (Children) or answered: from then on it must get every message.
    await this.o.widen();
    this.replaceNamed(name, msg.sender);
    this.add(msg.sender, name);
    this.o.attached(name);
    // Watch the child's name before confirming, and make sure it did not vanish meanwhile.
    return loadMetaSchemas()
      .then(() => this.o.rules.add(ownerRule(msg.sender)))
      .then(() => nameOwner(this.ctx.bus, msg.sender))
      .then((owner) => {
        if (!owner) { this.children.delete(msg.sender); throw new HiveError('Failed', 'caller left during Attach'); }
        this.ctx.log.info({ child: name }, 'child attached');
        // Read now, after the child's rules: a number after these reaches the child live.
        return [this.o.lastNumbers()];
      });
  }

  detach(msg: DBusMessage): void {
    const child = this.children.get(msg.sender);
    if (!child) return;
    this.remove(msg.sender);
    this.ctx.log.info({ child: child.name }, 'child detached');
  }

  /** A watched name lost its owner: the child is gone. */
  ownerChanged(name: string, newOwner: string): void {
    const child = this.children.get(name);
    if (!child || newOwner) return;
    this.remove(name);
    this.ctx.log.info({ child: child.name }, 'child vanished');
  }

  /** Send from a child: checked, stamped, handed up; anyone else gets NotChild. */
  send(msg: DBusMessage): Promise<void> {
    const { counters } = this.ctx;
    const child = this.children.get(msg.sender);
    if (!child) {
      counters.errors++;
      counters.not_child = (counters.not_child ?? 0) + 1;
      this.ctx.refused(`not_child:${msg.sender}`, { caller: msg.sender }, 'Send refused: not a child');
      throw new HiveError('NotChild', `Send: ${msg.sender} is not an attached child of '${this.ctx.name}'; call Attach first`);
    }
    let wire: WireMessage;
    try {
      wire = checkWireMessage(msg.signature, msg.body);
      this.stamp(wire, child.name);
    } catch (err) {
      counters.errors++;
      this.ctx.refused(`invalid:${child.name}`, { reason: (err as Error).message, child: child.name }, 'Send refused: invalid message');
      throw err;
    }
    counters.in++;
    return this.o.up(wire, child).catch((err: unknown) => {
      counters.dropped++;
      this.ctx.log.warn({ err, child: child.name }, 'message from child not delivered');
      throw err;
    });
  }

  /** Stamps path and origin from the verified sender; a forged origin is counted and logged. */
  stamp(wire: WireMessage, child: string): void {
    const { forgedOrigin, path } = stampSender(wire, child);
    if (forgedOrigin === undefined) return;
    this.ctx.counters.forged_origin = (this.ctx.counters.forged_origin ?? 0) + 1;
    this.ctx.refused(`origin:${child}`, { child, claimed: forgedOrigin, path }, 'hive.origin not on the path; replaced by the first node of the path');
  }
}
