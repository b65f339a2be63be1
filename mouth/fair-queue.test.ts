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
      { sender: 'a', sub: '', item: 1 },
      { sender: 'a', sub: '', item: 2 },
      { sender: 'a', sub: '', item: 3 },
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
    const q = createFairQueue<number>({ maxItems: 2, reserve: 0 });
    q.push('a', 1);
    q.push('b', 2);
    let err: unknown;
    try {
      q.push('c', 3);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OutboundRefused);
    expect((err as OutboundRefused).code).toBe('QueueFull');
    expect((err as OutboundRefused).message).toBe(
      'Outbound queue is full (2 messages queued, 0 of them from "c", beyond the 0 each sender may always queue); expected fewer messages in flight: wait for earlier ones to be sent.',
    );
    expect(q.size).toBe(2); // nothing lost, nothing added
    expect(q.shift()).toEqual({ sender: 'a', sub: '', item: 1 });
    q.push('c', 3);
    expect(q.clear()).toEqual([
      { sender: 'b', sub: '', item: 2 },
      { sender: 'c', sub: '', item: 3 },
    ]);
  });

  // Issue 14, item 5: a full queue refused everyone, so one chatty source silenced the others.
  it('keeps a share for every sender: when hogs fill the pool, the hog is refused and a newcomer is not', () => {
    const q = createFairQueue<number>({ maxItems: 12, reserve: 2, senderMax: 10 });
    const refusedOf = (sender: string) => { try { q.push(sender, 0); return false; } catch (e) { expect((e as OutboundRefused).code).toBe('QueueFull'); return true; } };
    for (let i = 0; i < 10; i++) q.push('hog', i);
    // Over its share (senderMax) one sender is refused although the pool has room.
    expect(refusedOf('hog')).toBe(true);
    expect(q.sizeOf('hog')).toBe(10);
    // A second hog takes its reserve and the rest of the pool (12 − 8 = 4 pooled): 6 in all.
    while (!refusedOf('hog2'));
    expect(q.sizeOf('hog2')).toBe(6);
    // A quiet sender still gets its reserve, then is refused like the rest.
    q.push('quiet', 1);
    q.push('quiet', 2);
    expect(q.sizeOf('quiet')).toBe(2);
    expect(refusedOf('quiet')).toBe(true);
    // ... and is served on the next turns, not behind the hogs' backlog.
    const next = [q.shift()!, q.shift()!, q.shift()!].map((e) => e.sender);
    expect(next).toContain('quiet');
  });

  it('bounds the total at maxItems plus each sender\'s reserve', () => {
    const q = createFairQueue<number>({ maxItems: 10, reserve: 3, senderMax: 1000 });
    const senders = ['a', 'b', 'c', 'd'];
    for (const s of senders) for (let i = 0; i < 100; i++) { try { q.push(s, i); } catch { /* refused: counted below */ } }
    expect(q.size).toBe(10 + 3 * senders.length);
    // Draining one sender's items gives back pool room only as they leave.
    while (q.sizeOf('a') > 0) q.shift();
    expect(() => q.push('b', 0)).not.toThrow();
  });

  it('gives a sender its own cap with limitOf (automatic replies)', () => {
    const q = createFairQueue<number>({ maxItems: 100, limitOf: (s) => (s === 'auto' ? 2 : undefined) });
    q.push('auto', 1);
    q.push('auto', 2);
    expect(() => q.push('auto', 3)).toThrow(/share of the outbound queue/);
    for (let i = 0; i < 20; i++) q.push('plugin', i);
    expect(q.sizeOf('plugin')).toBe(20);
  });

  it('serves the claimed origins of one sender round-robin within that sender\'s turn only', () => {
    const q = createFairQueue<string>({ maxItems: 100 });
    // A filter's subtree claims three origins; another child of the mouth sends on its own.
    for (const i of [1, 2, 3]) q.push('filter', `x${i}`, 'x');
    for (const i of [1, 2]) q.push('filter', `y${i}`, 'y');
    q.push('filter', 'z1', 'z');
    for (const i of [1, 2, 3]) q.push('other', `o${i}`, 'other');
    const order: string[] = [];
    for (let e = q.shift(); e; e = q.shift()) order.push(e.item);
    expect(order).toEqual(['x1', 'o1', 'y1', 'o2', 'z1', 'o3', 'x2', 'y2', 'x3']);
  });

  it('a leaf claiming many origins gets no more than one share', () => {
    const q = createFairQueue<number>({ maxItems: 100, reserve: 1, senderMax: 5 });
    let refused = 0;
    for (let i = 0; i < 50; i++) { try { q.push('liar', i, `origin${i}`); } catch { refused++; } }
    expect(q.sizeOf('liar')).toBe(5);
    expect(refused).toBe(45);
    q.push('honest', 1);
    expect([q.shift()!.sender, q.shift()!.sender]).toEqual(['liar', 'honest']);
  });

  // Issue 14: one IRC user flooding `!ping` filled ping's share, and ping's answer to another
  // user was refused. Each user now has a small share of each sender's.
  it('a user flooding one sender cannot get another user\'s item refused (UserShare)', () => {
    const q = createFairQueue<string>({ maxItems: 500 }); // senderMax 250, userMax 10
    const refused: Record<string, number> = {};
    for (let i = 0; i < 1000; i++) {
      try { q.push('ping', `a${i}`, 'ping', 'mallory@evil'); } catch (e) { const c = (e as OutboundRefused).code; refused[c] = (refused[c] ?? 0) + 1; }
    }
    expect(refused).toEqual({ UserShare: 990 });
    expect(q.sizeOf('ping')).toBe(10);
    expect(() => q.push('ping', 'b0', 'ping', 'alice@home')).not.toThrow();
    // ... and is served in the next round (after at most one of the flood's), not behind it.
    expect([q.shift()!.item, q.shift()!.item]).toContain('b0');
    // The flood's share frees as its items go out.
    expect(() => q.push('ping', 'a-next', 'ping', 'mallory@evil')).not.toThrow();
  });

  it('names the user and the share in the UserShare refusal', () => {
    const q = createFairQueue<number>({ maxItems: 100, userMax: 2 });
    q.push('ping', 1, 'ping', 'u@h');
    q.push('ping', 2, 'ping', 'u@h');
    expect(() => q.push('ping', 3, 'ping', 'u@h')).toThrow(/"ping" has 2 messages queued answering IRC user "u@h", that user's share \(2\)/);
  });

  it('serves the users of one (sender, origin) round-robin; items for no user are a lane of their own', () => {
    const q = createFairQueue<string>({ maxItems: 100, userMax: 5 });
    for (const i of [1, 2, 3]) q.push('ping', `a${i}`, 'ping', 'a@x');
    for (const i of [1, 2]) q.push('ping', `b${i}`, 'ping', 'b@y');
    for (const i of [1, 2]) q.push('ping', `n${i}`, 'ping');
    q.push('other', 'o1', 'other', 'a@x');
    const order: string[] = [];
    for (let e = q.shift(); e; e = q.shift()) order.push(e.item);
    expect(order).toEqual(['a1', 'o1', 'b1', 'n1', 'a2', 'b2', 'n2', 'a3']);
  });

  it('counts a user\'s share per sender, so a plugin naming a user fills only its own messages', () => {
    const q = createFairQueue<number>({ maxItems: 100, userMax: 2 });
    q.push('liar', 1, 'liar', 'alice@home');
    q.push('liar', 2, 'liar', 'alice@home');
    expect(() => q.push('liar', 3, 'liar', 'alice@home')).toThrow(OutboundRefused);
    // Across the sender's origins too: claiming another origin gives no new share.
    expect(() => q.push('liar', 3, 'other-origin', 'alice@home')).toThrow(/share/);
    q.push('ping', 1, 'ping', 'alice@home');
    q.push('ping', 2, 'ping', 'alice@home');
    // Items for no user are not limited by a user's share.
    for (let i = 0; i < 20; i++) q.push('ping', i, 'ping');
    expect(q.sizeOf('ping')).toBe(22);
  });

  it('clear returns everything in serving order and empties the queue', () => {
    const q = createFairQueue<number>({ maxItems: 10 });
    q.push('a', 1);
    q.push('a', 2);
    q.push('b', 3);
    expect(q.clear()).toEqual([
      { sender: 'a', sub: '', item: 1 },
      { sender: 'b', sub: '', item: 3 },
      { sender: 'a', sub: '', item: 2 },
    ]);
    expect(q.size).toBe(0);
    expect(q.sizeOf('a')).toBe(0);
    expect(q.shift()).toBeUndefined();
    expect(q.clear()).toEqual([]);
    q.push('c', 4);
    expect(q.shift()).toEqual({ sender: 'c', sub: '', item: 4 });
  });

  it('keeps falsy items and odd sender names', () => {
    const q = createFairQueue<number | undefined | null>({ maxItems: 10 });
    q.push('', 0);
    q.push('__proto__', undefined);
    q.push('constructor', null);
    expect(q.clear()).toEqual([
      { sender: '', sub: '', item: 0 },
      { sender: '__proto__', sub: '', item: undefined },
      { sender: 'constructor', sub: '', item: null },
    ]);
  });

  it('stays correct over many operations (per-sender order kept)', () => {
    const q = createFairQueue<number>({ maxItems: 200_000 });
    const senders = ['a', 'b', 'c', 'd'];
    const expectedNext = new Map(senders.map((s) => [s, 0]));
    const pushed = new Map(senders.map((s) => [s, 0]));
    let outOfOrder = 0;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 4000; i++) {
        const s = senders[(i * 7 + round) % 4]!;
        q.push(s, pushed.get(s)!);
        pushed.set(s, pushed.get(s)! + 1);
      }
      for (let i = 0; i < 3000; i++) {
        const e = q.shift()!;
        // per-sender order is preserved
        if (e.item !== expectedNext.get(e.sender)) outOfOrder++;
        expectedNext.set(e.sender, e.item + 1);
      }
    }
    expect(q.size).toBe(50 * 1000);
    // Speed is the benchmarks' business (the standards: no timing assertions in tests).
    expect(outOfOrder).toBe(0);
  });

  it('admit() refuses exactly as push() would, and queues nothing', () => {
    const q = createFairQueue<number>({ maxItems: 4, userMax: 1 }); // senderMax 2
    const code = (fn: () => void) => { try { fn(); } catch (e) { return (e as OutboundRefused).code; } return undefined; };
    q.push('a', 1, '', 'u@h');
    expect(code(() => q.admit('a', 'u@h'))).toBe('UserShare');
    expect(code(() => q.admit('a', 'v@h'))).toBeUndefined();
    q.push('a', 2);
    expect(code(() => q.admit('a'))).toBe('QueueFull');
    expect(code(() => q.push('a', 3))).toBe('QueueFull');
    expect(code(() => q.admit('b'))).toBeUndefined();
    expect([q.size, q.sizeOf('a'), q.sizeOf('b')]).toEqual([2, 2, 0]);
  });

  it('rejects a nonsensical maxItems', () => {
    expect(() => createFairQueue({ maxItems: 0 })).toThrow(RangeError);
    expect(() => createFairQueue({ maxItems: 1.5 })).toThrow(/maxItems must be an integer >= 1/);
    expect(() => createFairQueue({ maxItems: Infinity })).toThrow(RangeError);
    expect(() => createFairQueue({ maxItems: 10, reserve: -1 })).toThrow(/reserve must be/);
    expect(() => createFairQueue({ maxItems: 10, senderMax: 0 })).toThrow(/senderMax must be/);
    expect(() => createFairQueue({ maxItems: 10, userMax: 0 })).toThrow(/userMax must be/);
  });
});
