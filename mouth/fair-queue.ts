/**
 * Outbound queue of one network, fair between senders, in two levels. The first level is the
 * verified sender (the mouth's direct child a message came through: its bus connection proves it);
 * the second is what that child claims (hive.origin, the node in its subtree that made it). Senders
 * are served round-robin, one item each in turn, and within one sender its sub-senders are served
 * round-robin too: so a filter's claims about its subtree can only split the filter's own share, and
 * a plugin that claims many origins gets no more than one turn.
 *
 * Shares: every sender may always queue `reserve` items, however full the queue is (its guaranteed
 * share); beyond that it draws from a pool of `maxItems` shared by all, but never holds more than
 * `senderMax` (or its own `limitOf`) items. So one chatty sender — or two — cannot refuse a third
 * its next message: the hog's push is the one refused. At most maxItems + reserve × senders items
 * are queued; senders are the mouth's children (and its own automatic replies), bounded by the tree.
 *
 * Users: an item may name the IRC user it answers (the mouth knows whose line a reply's
 * hive.reply_to is). Within one (sender, sub) the users are served round-robin too, and one user
 * may hold at most `userMax` of a sender's items (past it: UserShare). So a user flooding commands
 * to a plugin fills only their own small share of that plugin's, and another user's command is
 * queued and served within one round. The cap is per sender, not global, so a plugin that names
 * another user in its replies can only use up that user's share of its own messages. Items naming
 * no user ('': automata, announcements) are one lane of their own, capped only by the sender's share.
 *
 * An item is one whole HiveMessage's lines, an atomic unit: the consumer takes all lines of the
 * item it shifted and sends them consecutively, so a multi-line reply is never interleaved.
 *
 * The queue never drops: push() throws QueueFull and the sender learns its message was not queued.
 * push, admit, shift, size and sizeOf are O(1) (amortized); clear is O(n).
 */
import { OutboundRefused, showBytes } from './outbound-error.js';

export interface FairQueueOptions {
  /** Items in the pool shared by all senders (beyond each sender's reserve). */
  maxItems: number;
  /** Items every sender may queue even when the pool is full. Default max(1, maxItems / 50). */
  reserve?: number;
  /** Items one sender may hold at most. Default max(1, maxItems / 2). */
  senderMax?: number;
  /** A sender's own cap instead of senderMax (e.g. a small one for automatic replies). */
  limitOf?: (sender: string) => number | undefined;
  /** Items of one sender that answer one IRC user, at most. Default max(2, maxItems / 50). */
  userMax?: number;
}

export interface FairQueueEntry<T> {
  sender: string;
  /** Who within the sender's subtree made it (its claim); '' when none was given. */
  sub: string;
  item: T;
}

export interface FairQueue<T> {
  /**
   * Queues an item answering `user` ('' for none); throws OutboundRefused QueueFull if the sender
   * is over its share, UserShare if the sender holds userMax items for that user already.
   */
  push(sender: string, item: T, sub?: string, user?: string): void;
  /** Throws what push(sender, …, user) would throw now, and queues nothing: to check before spending something else (a rate token). O(1). */
  admit(sender: string, user?: string): void;
  /** The next item, round-robin across senders (then their subs, then users) that have items; undefined when empty. */
  shift(): FairQueueEntry<T> | undefined;
  /** Items queued across all senders. */
  readonly size: number;
  /** Items queued by one sender. */
  sizeOf(sender: string): number;
  /** Empties the queue and returns what was in it, in the order shift() would have given it. */
  clear(): FairQueueEntry<T>[];
}

/** FIFO with a moving head: O(1) amortized shift, unlike Array.prototype.shift on long arrays. */
class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined; // let the item be collected
    this.head++;
    // Compact once the dead prefix is the larger half, so each slot is copied O(1) times.
    if (this.head >= 32 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

/** One sub's items, round-robin between the users they answer. */
interface SubQueue<T> {
  users: Map<string, Fifo<T>>;
  turn: Fifo<string>;
}

/** One sender's items, round-robin between its subs; with its item count per user (not ''). */
interface SenderQueue<T> {
  subs: Map<string, SubQueue<T>>;
  turn: Fifo<string>;
  count: number;
  /** Made on the first item that names a user: automata's senders never need it. */
  perUser: Map<string, number> | undefined;
}

function checkCount(name: string, n: number, min: number): void {
  if (!Number.isInteger(n) || n < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${n}`);
}

export function createFairQueue<T>(options: FairQueueOptions): FairQueue<T> {
  const { maxItems } = options;
  checkCount('maxItems', maxItems, 1);
  const reserve = options.reserve ?? Math.max(1, Math.floor(maxItems / 50));
  const senderMax = options.senderMax ?? Math.max(1, Math.floor(maxItems / 2));
  const userMax = options.userMax ?? Math.max(2, Math.floor(maxItems / 50));
  checkCount('reserve', reserve, 0);
  checkCount('senderMax', senderMax, 1);
  checkCount('userMax', userMax, 1);

  /** Queues of senders that have items; a sender is removed as soon as its queue is empty. */
  const queues = new Map<string, SenderQueue<T>>();
  /** Senders with items, in serving order; each appears exactly once. */
  const turn = new Fifo<string>();
  let size = 0;
  /** Items beyond each sender's reserve: Σ max(0, count − reserve), at most maxItems. */
  let pooled = 0;

  function shift(): FairQueueEntry<T> | undefined {
    const sender = turn.shift();
    if (sender === undefined) return undefined;
    const q = queues.get(sender)!;
    const sub = q.turn.shift()!;
    const sq = q.subs.get(sub)!;
    const user = sq.turn.shift()!;
    const fifo = sq.users.get(user)!;
    const item = fifo.shift() as T;
    if (fifo.length > 0) sq.turn.push(user);
    else sq.users.delete(user);
    if (sq.turn.length > 0) q.turn.push(sub);
    else q.subs.delete(sub);
    if (user !== '') {
      const n = q.perUser!.get(user)! - 1;
      if (n > 0) q.perUser!.set(user, n);
      else q.perUser!.delete(user);
    }
    if (q.count > reserve) pooled--;
    q.count--;
    size--;
    if (q.count > 0) turn.push(sender);
    else queues.delete(sender);
    return { sender, sub, item };
  }

  /** Throws OutboundRefused if `sender` may not queue one more item answering `user` now. */
  function admit(sender: string, user = ''): void {
    const q = queues.get(sender);
    const count = q?.count ?? 0;
    const ofUser = user === '' ? 0 : (q?.perUser?.get(user) ?? 0);
    // First: the narrowest cause, what this one user has in flight.
    if (ofUser >= userMax) {
      throw new OutboundRefused(
        'UserShare',
        `${showBytes(sender)} has ${ofUser} messages queued answering IRC user ${showBytes(user)}, that user's share (${userMax}); ` +
          'expected fewer answers to one user in flight: wait for earlier ones to be sent, or send them as one message of several lines.',
      );
    }
    const cap = options.limitOf?.(sender) ?? senderMax;
    if (count >= cap) {
      throw new OutboundRefused(
        'QueueFull',
        `${showBytes(sender)} has ${count} messages queued, its share of the outbound queue; ` +
          'expected fewer messages in flight: wait for earlier ones to be sent.',
      );
    }
    if (count >= reserve && pooled >= maxItems) {
      throw new OutboundRefused(
        'QueueFull',
        `Outbound queue is full (${size} messages queued, ${count} of them from ${showBytes(sender)}, beyond the ${reserve} each sender may always queue); ` +
          'expected fewer messages in flight: wait for earlier ones to be sent.',
      );
    }
  }

  return {
    admit,
    push(sender: string, item: T, sub = '', user = ''): void {
      admit(sender, user);
      const q = queues.get(sender);
      const ofUser = user === '' ? 0 : (q?.perUser?.get(user) ?? 0);
      let sq = q;
      if (sq === undefined) {
        sq = { subs: new Map(), turn: new Fifo(), count: 0, perUser: undefined };
        queues.set(sender, sq);
        turn.push(sender);
      }
      let uq = sq.subs.get(sub);
      if (uq === undefined) {
        uq = { users: new Map(), turn: new Fifo() };
        sq.subs.set(sub, uq);
        sq.turn.push(sub);
      }
      let fifo = uq.users.get(user);
      if (fifo === undefined) {
        fifo = new Fifo<T>();
        uq.users.set(user, fifo);
        uq.turn.push(user);
      }
      fifo.push(item);
      if (user !== '') (sq.perUser ??= new Map()).set(user, ofUser + 1);
      if (sq.count >= reserve) pooled++;
      sq.count++;
      size++;
    },
    shift,
    get size(): number {
      return size;
    },
    sizeOf(sender: string): number {
      return queues.get(sender)?.count ?? 0;
    },
    clear(): FairQueueEntry<T>[] {
      const all: FairQueueEntry<T>[] = [];
      for (let entry = shift(); entry !== undefined; entry = shift()) all.push(entry);
      return all;
    },
  };
}
