import { describe, expect, it } from 'vitest';
import { ReplayBuffer } from './replay-buffer.js';
import type { WireMessage } from '../codec.js';

const wire = (n: number): WireMessage => [[Buffer.from(`L${n}`)], {}];
const texts = (r: { wires: WireMessage[] }) => r.wires.map((w) => w[0][0]!.toString());

describe('ReplayBuffer', () => {
  it('returns only the messages of the network after the given seq, oldest first', () => {
    const b = new ReplayBuffer(10);
    for (let i = 1; i <= 5; i++) b.add('a', i, wire(i), 'PRIVMSG');
    b.add('b', 3, wire(99), 'PRIVMSG');
    expect(texts(b.since('a', 3))).toEqual(['L4', 'L5']);
    expect(b.since('a', 3).complete).toBe(true);
    expect(b.since('b', 0).wires).toHaveLength(1);
  });
  it('keeps only the newest entries when full, and says when it no longer reaches back', () => {
    const b = new ReplayBuffer(3);
    for (let i = 1; i <= 5; i++) b.add('a', i, wire(i), 'PRIVMSG');
    expect(texts(b.since('a', 0))).toEqual(['L3', 'L4', 'L5']);
    expect(b.since('a', 0).complete).toBe(false);
    expect(b.since('a', 1).complete).toBe(false);
    expect(b.since('a', 2).complete).toBe(true);
  });
  it('answers within a byte budget, keeping the newest, and says it is incomplete', () => {
    const b = new ReplayBuffer(10);
    const big = (n: number): WireMessage => [[Buffer.alloc(1000, 0x41 + n)], {}];
    for (let i = 1; i <= 5; i++) b.add('a', i, big(i), 'PRIVMSG');
    const r = b.since('a', 0, 2500);
    expect(r.wires.map((w) => w[0][0]![0])).toEqual([0x45, 0x46]);
    expect(r.complete).toBe(false);
    expect(b.since('a', 0).complete).toBe(true);
  });

  it('replays some routes only, and is complete unless one of those was evicted', () => {
    const b = new ReplayBuffer(4);
    const routes = ['PRIVMSG', 'PRIVMSG.command.ping', 'JOIN', 'PRIVMSG', 'PRIVMSG.command.echo', 'PRIVMSG', 'PRIVMSG'];
    routes.forEach((r, i) => b.add('a', i + 1, wire(i + 1), r));
    // Evicted: 1 PRIVMSG, 2 ping, 3 JOIN. Kept: 4..7.
    expect(texts(b.sinceRoutes('a', 0, ['PRIVMSG.command.echo']))).toEqual(['L5']);
    expect(b.sinceRoutes('a', 0, ['PRIVMSG.command.echo']).complete).toBe(true);
    expect(b.sinceRoutes('a', 0, ['PRIVMSG.command.ping']).complete).toBe(false);
    expect(b.sinceRoutes('a', 2, ['PRIVMSG.command.ping']).complete).toBe(true);
    // A namespace takes every key under it: PRIVMSG.* reaches the evicted ping and PRIVMSG.
    expect(b.sinceRoutes('a', 2, ['PRIVMSG.*']).complete).toBe(true);
    expect(b.sinceRoutes('a', 1, ['JOIN']).complete).toBe(false);
    expect(texts(b.sinceRoutes('a', 0, ['PRIVMSG.*']))).toEqual(['L4', 'L5', 'L6', 'L7']);
    expect(b.since('a', 0).complete).toBe(false);
  });
  it('remembers evicted routes within a bound: past it, every route of the network counts as evicted', () => {
    const b = new ReplayBuffer(1);
    for (let i = 1; i <= 1100; i++) b.add('a', i, wire(i), `PRIVMSG.command.c${i}`);
    b.add('a', 1101, wire(1101), 'PRIVMSG');
    // c1's eviction was folded into the network's floor: a route never seen is now doubtful too.
    expect(b.sinceRoutes('a', 50, ['PRIVMSG.command.never']).complete).toBe(false);
    expect(b.sinceRoutes('a', 1100, ['PRIVMSG.command.never']).complete).toBe(true);
  });
  it('a node that took some routes only is complete after it widens only from the first message it then took', () => {
    const b = new ReplayBuffer(10);
    b.setNarrow(true);
    b.add('a', 1, wire(1), 'PRIVMSG.command.ping');
    b.add('a', 5, wire(5), 'PRIVMSG.command.ping');
    expect(b.since('a', 0).complete).toBe(false);
    b.setNarrow(false);
    expect(b.since('a', 5).complete).toBe(false);
    b.add('a', 6, wire(6), 'PRIVMSG');
    expect(b.since('a', 5).complete).toBe(true);
    expect(b.since('a', 4).complete).toBe(false);
    expect(texts(b.since('a', 5))).toEqual(['L6']);
  });

  it('knows the last number passed down per network (Attach\'s answer), for at most 64 networks, evicted or not, with no buffer too', () => {
    const b = new ReplayBuffer(2);
    for (let i = 1; i <= 5; i++) b.add('a', i, wire(i), 'PRIVMSG');
    b.add('b', 7, wire(7), 'JOIN');
    expect(b.lastNumbers()).toEqual({ a: 5n, b: 7n });
    for (let i = 0; i < 100; i++) b.add(`n${i}`, 1, wire(i), 'PRIVMSG');
    expect(Object.keys(b.lastNumbers())).toHaveLength(64);
    b.add('a', 9, wire(9), 'PRIVMSG');
    expect(b.lastNumbers().a).toBe(9n);
    const none = new ReplayBuffer(0);
    none.add('a', 3, wire(3), 'PRIVMSG');
    expect(none.lastNumbers()).toEqual({ a: 3n });
  });
});
