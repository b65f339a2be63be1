import { describe, expect, it } from 'vitest';
import { createFairQueue } from './fair-queue.js';
import { OutboundRefused } from './outbound-error.js';

describe('createFairQueue', () => {
  it('is FIFO for one sender', () => {
    const q = createFairQueue<number>({ maxItems: 10 });
    q.push('a', 1);
    q.push('a', 2);
    q.push('a', 3);
    expect([q.shift(), q.shift(), q.shift(), q.shift()]).toEqual([
      { sender: 'a', item: 1 },
      { sender: 'a', item: 2 },
      { sender: 'a', item: 3 },
      undefined,
    ]);
  });

  it('serves senders round-robin', () => {
    const q = createFairQueue<string>({ maxItems: 100 });
    for (const i of [1, 2, 3]) q.push('a', `a${i}`);
    for (const i of [1, 2]) q.push('b', `b${i}`);
    q.push('c', 'c1');
    const order: string[] = [];
    for (let e = q.shift(); e; e = q.shift()) order.push(e.item);
    expect(order).toEqual(['a1', 'b1', 'c1', 'a2', 'b2', 'a3']);
  });

  it('serves a newcomer after at most one item of a sender with 100 queued', () => {
    const q = createFairQueue<number>({ maxItems: 1000 });
    for (let i = 0; i < 100; i++) q.push('chatty', i);
    // Whatever the point at which the newcomer arrives, at most one chatty item goes before it.
    for (let drained = 0; drained < 5; drained++) {
      q.push('quiet', -1);
      const first = q.shift();
      const second = q.shift();
      expect([first?.sender, second?.sender]).toContain('quiet');
    }
  });

  it('treats items as atomic units (a whole message of lines)', () => {
    const q = createFairQueue<Buffer[]>({ maxItems: 10 });
    const reply = [Buffer.from('PRIVMSG #c :1/3'), Buffer.from('PRIVMSG #c :2/3'), Buffer.from('PRIVMSG #c :3/3')];
    q.push('a', reply);
    q.push('b', [Buffer.from('PRIVMSG #c :other')]);
    expect(q.shift()?.item).toBe(reply);
    expect(q.size).toBe(1);
  });

  it('tracks size and sizeOf', () => {
    const q = createFairQueue<number>({ maxItems: 10 });
    expect(q.size).toBe(0);
    expect(q.sizeOf('a')).toBe(0);
    q.push('a', 1);
    q.push('a', 2);
    q.push('b', 3);
    expect(q.size).toBe(3);
    expect(q.sizeOf('a')).toBe(2);
    expect(q.sizeOf('b')).toBe(1);
    q.shift();
    q.shift();
    expect(q.sizeOf('b')).toBe(0);
    expect(q.sizeOf('a')).toBe(1);
    expect(q.size).toBe(1);
  });

  it('refuses with QueueFull instead of dropping, and accepts again once there is room', () => {
    const q = createFairQueue<number>({ maxItems: 2 });
    q.push('a', 1);
    q.push('b', 2);
    let err: unknown;
    try {
      q.push('a', 3);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OutboundRefused);
    expect((err as OutboundRefused).code).toBe('QueueFull');
    expect((err as OutboundRefused).message).toBe(
      'Outbound queue is full (2 of 2 messages queued, 1 of them from "a"); expected fewer messages in flight: wait for earlier ones to be sent.',
    );
    expect(q.size).toBe(2); // nothing lost, nothing added
    expect(q.shift()).toEqual({ sender: 'a', item: 1 });
    q.push('a', 3);
    expect(q.clear()).toEqual([
      { sender: 'b', item: 2 },
      { sender: 'a', item: 3 },
    ]);
  });

  it('clear returns everything in serving order and empties the queue', () => {
    const q = createFairQueue<number>({ maxItems: 10 });
    q.push('a', 1);
    q.push('a', 2);
    q.push('b', 3);
    expect(q.clear()).toEqual([
      { sender: 'a', item: 1 },
      { sender: 'b', item: 3 },
      { sender: 'a', item: 2 },
    ]);
    expect(q.size).toBe(0);
    expect(q.sizeOf('a')).toBe(0);
    expect(q.shift()).toBeUndefined();
    expect(q.clear()).toEqual([]);
    q.push('c', 4);
    expect(q.shift()).toEqual({ sender: 'c', item: 4 });
  });

  it('keeps falsy items and odd sender names', () => {
    const q = createFairQueue<number | undefined | null>({ maxItems: 10 });
    q.push('', 0);
    q.push('__proto__', undefined);
    q.push('constructor', null);
    expect(q.clear()).toEqual([
      { sender: '', item: 0 },
      { sender: '__proto__', item: undefined },
      { sender: 'constructor', item: null },
    ]);
  });

  it('stays correct and fast over many operations (O(1) each)', () => {
    const q = createFairQueue<number>({ maxItems: 200_000 });
    const senders = ['a', 'b', 'c', 'd'];
    const expectedNext = new Map(senders.map((s) => [s, 0]));
    const pushed = new Map(senders.map((s) => [s, 0]));
    const started = performance.now();
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 4000; i++) {
        const s = senders[(i * 7 + round) % 4]!;
        q.push(s, pushed.get(s)!);
        pushed.set(s, pushed.get(s)! + 1);
      }
      for (let i = 0; i < 3000; i++) {
        const e = q.shift()!;
        // per-sender order is preserved
        expect(e.item).toBe(expectedNext.get(e.sender));
        expectedNext.set(e.sender, e.item + 1);
      }
    }
    expect(q.size).toBe(50 * 1000);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('rejects a nonsensical maxItems', () => {
    expect(() => createFairQueue({ maxItems: 0 })).toThrow(RangeError);
    expect(() => createFairQueue({ maxItems: 1.5 })).toThrow(/maxItems must be an integer >= 1/);
    expect(() => createFairQueue({ maxItems: Infinity })).toThrow(RangeError);
  });
});
