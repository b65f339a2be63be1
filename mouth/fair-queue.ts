/**
 * Outbound queue of one network, fair between senders (the hive.origin of each message): one
 * chatty plugin must not starve the others behind the flood limit. Senders with items are served
 * round-robin, one item each in turn, so a sender that arrives while another has 100 items
 * queued waits for at most one of them.
 *
 * An item is one whole HiveMessage's lines, an atomic unit: the consumer takes all lines of the
 * item it shifted and sends them consecutively (the token bucket paces each line, but no other
 * item starts in between), so a multi-line reply is never interleaved with another sender's.
 *
 * The queue never drops: push() throws QueueFull and the sender learns its message was not queued.
 * push, shift, size and sizeOf are O(1) (amortized); clear is O(n).
 */
import { OutboundRefused, showBytes } from './outbound-error.js';

export interface FairQueueOptions {
  /** Items queued across all senders at most. */
  maxItems: number;
}

export interface FairQueueEntry<T> {
  sender: string;
  item: T;
}

export interface FairQueue<T> {
  /** Queues an item; throws OutboundRefused QueueFull if that would exceed maxItems. */
  push(sender: string, item: T): void;
  /** The next item, round-robin across senders that have items; undefined when empty. */
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

export function createFairQueue<T>({ maxItems }: FairQueueOptions): FairQueue<T> {
  if (!Number.isInteger(maxItems) || maxItems < 1) throw new RangeError(`maxItems must be an integer >= 1, got ${maxItems}`);

  /** Queues of senders that have items; a sender is removed as soon as its queue is empty. */
  const queues = new Map<string, Fifo<T>>();
  /** Senders with items, in serving order; each appears exactly once. */
  const turn = new Fifo<string>();
  let size = 0;

  function shift(): FairQueueEntry<T> | undefined {
    const sender = turn.shift();
    if (sender === undefined) return undefined;
    const queue = queues.get(sender)!;
    const item = queue.shift() as T;
    size--;
    if (queue.length > 0) turn.push(sender);
    else queues.delete(sender);
    return { sender, item };
  }

  return {
    push(sender: string, item: T): void {
      if (size >= maxItems) {
        throw new OutboundRefused(
          'QueueFull',
          `Outbound queue is full (${size} of ${maxItems} messages queued, ${queues.get(sender)?.length ?? 0} of them from ${showBytes(sender)}); ` +
            'expected fewer messages in flight: wait for earlier ones to be sent.',
        );
      }
      let queue = queues.get(sender);
      if (queue === undefined) {
        queue = new Fifo<T>();
        queues.set(sender, queue);
        turn.push(sender);
      }
      queue.push(item);
      size++;
    },
    shift,
    get size(): number {
      return size;
    },
    sizeOf(sender: string): number {
      return queues.get(sender)?.length ?? 0;
    },
    clear(): FairQueueEntry<T>[] {
      const all: FairQueueEntry<T>[] = [];
      for (let entry = shift(); entry !== undefined; entry = shift()) all.push(entry);
      return all;
    },
  };
}
