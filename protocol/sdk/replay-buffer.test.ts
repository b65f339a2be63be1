import { describe, expect, it } from 'vitest';
import { ReplayBuffer } from './replay-buffer.js';
import type { WireMessage } from '../codec.js';

const wire = (n: number): WireMessage => [[Buffer.from(`L${n}`)], {}];
const texts = (r: { wires: WireMessage[] }) => r.wires.map((w) => w[0][0]!.toString());

describe('ReplayBuffer', () => {
  it('returns only the messages of the network after the given seq, oldest first', () => {
    const b = new ReplayBuffer(10);
    for (let i = 1; i <= 5; i++) b.add('a', i, wire(i));
    b.add('b', 3, wire(99));
    expect(texts(b.since('a', 3))).toEqual(['L4', 'L5']);
    expect(b.since('a', 3).complete).toBe(true);
    expect(b.since('b', 0).wires).toHaveLength(1);
  });
  it('keeps only the newest entries when full, and says when it no longer reaches back', () => {
    const b = new ReplayBuffer(3);
    for (let i = 1; i <= 5; i++) b.add('a', i, wire(i));
    expect(texts(b.since('a', 0))).toEqual(['L3', 'L4', 'L5']);
    expect(b.since('a', 0).complete).toBe(false);
    expect(b.since('a', 1).complete).toBe(false);
    expect(b.since('a', 2).complete).toBe(true);
  });
  it('answers within a byte budget, keeping the newest, and says it is incomplete', () => {
    const b = new ReplayBuffer(10);
    const big = (n: number): WireMessage => [[Buffer.alloc(1000, 0x41 + n)], {}];
    for (let i = 1; i <= 5; i++) b.add('a', i, big(i));
    const r = b.since('a', 0, 2500);
    expect(r.wires.map((w) => w[0][0]![0])).toEqual([0x45, 0x46]);
    expect(r.complete).toBe(false);
    expect(b.since('a', 0).complete).toBe(true);
  });
});
