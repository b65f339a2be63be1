import { describe, expect, it } from 'vitest';
import { Recent } from './recent.js';

describe('Recent', () => {
  it('forgets entries after their lifetime and the oldest when full', () => {
    const r = new Recent<string, number>(2, 100);
    r.set('a', 1, 0);
    r.set('b', 2, 50);
    expect(r.get('a', 99)).toBe(1);
    expect(r.get('a', 100)).toBeUndefined();
    r.set('c', 3, 60);
    r.set('d', 4, 60);
    expect(r.get('b', 61)).toBeUndefined(); // pushed out by c and d
    expect(r.size).toBe(2);
    expect(r.sweep(1000)).toBe(2);
    expect(r.size).toBe(0);
  });

  it('setting again renews the lifetime and the age', () => {
    const r = new Recent<string, number>(2, 100);
    r.set('a', 1, 0);
    r.set('b', 2, 10);
    r.set('a', 5, 90);
    r.set('c', 3, 95);
    expect(r.get('a', 150)).toBe(5);
    expect(r.get('b', 96)).toBeUndefined();
  });
});
