import { describe, expect, it } from 'vitest';
import { counterValues, detailVariants } from './details.js';

describe('detailVariants', () => {
  it('gives each value the narrowest D-Bus type that holds it', () => {
    const v = detailVariants({ s: 'x', b: true, i: 3, d: 1.5, l: ['a', 'b'], m: { a: 1.6, b: 2 } });
    expect(Object.fromEntries(Object.entries(v).map(([k, x]) => [k, [x.signature, x.value]]))).toEqual({
      s: ['s', 'x'], b: ['b', true], i: ['x', 3n], d: ['d', 1.5], l: ['as', ['a', 'b']], m: ['a{sx}', { a: 2n, b: 2n }],
    });
  });
});

describe('counterValues', () => {
  it('makes counters 64-bit integers', () => {
    expect(counterValues({ in: 1, out: 0 })).toEqual({ in: 1n, out: 0n });
  });
});
