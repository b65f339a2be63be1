import { describe, expect, it } from 'vitest';
import { LateParts } from './late-parts.js';

const b = (...t: string[]) => t.map((x) => Buffer.from(x));

describe('LateParts', () => {
  it('appends a late part to a message remembered by (place, id), and only there', () => {
    const p = new LateParts();
    p.remember('x/#a', 'm1', b('one', 'two'), 2, 0);
    const w = p.append('x/#a', 'm1', b('three'), 5);
    expect(w !== 'full' && w?.bodies.map(String)).toEqual(['one', 'two', 'three']);
    expect(p.append('x/#b', 'm1', b('x'), 5)).toBeUndefined();
    expect(p.append('x/#a', 'other', b('x'), 5)).toBeUndefined();
  });

  it('forgets after ttl and past maxMessages, oldest first', () => {
    const p = new LateParts({ maxMessages: 2, ttlMs: 100, maxLines: 10, maxBytes: 100 });
    p.remember('w', 'a', b('a'), 1, 0);
    p.remember('w', 'b', b('b'), 1, 50);
    p.remember('w', 'c', b('c'), 1, 60);
    expect(p.append('w', 'a', b('x'), 70)).toBeUndefined();
    expect(p.append('w', 'b', b('x'), 70)).toBeDefined();
    expect(p.append('w', 'b', b('x'), 160)).toBeUndefined();
  });

  it('hostile: a message that keeps growing stops at its line and byte caps', () => {
    const p = new LateParts({ maxMessages: 2, ttlMs: 1000, maxLines: 3, maxBytes: 10 });
    p.remember('w', 'a', b('12345'), 1, 0);
    expect(p.append('w', 'a', b('123456'), 1)).toBe('full');
    expect(p.append('w', 'a', b('1', '2', '3'), 1)).toBe('full');
    const w = p.append('w', 'a', b('1', '2'), 1);
    expect(w !== 'full' && w?.bodies.length).toBe(3);
  });
});
