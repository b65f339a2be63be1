// The text transformations on bytes (issue 14, item 7: the protocol carries bytes end to end, so
// a byte that is not UTF-8 must come back as it was, not as U+FFFD).
import { describe, expect, it } from 'vitest';
import { pieces, reverseBytes } from './index.js';

const b = (...parts: (string | number[])[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));

describe('text on bytes', () => {
  it('splits bytes into UTF-8 runs and the bytes that are not UTF-8', () => {
    expect(pieces(b('ab', [0xe9], 'c😀', [0xff, 0xc3]))).toEqual(['ab', 0xe9, 'c😀', 0xff, 0xc3]);
    // overlong, surrogate, beyond U+10FFFF: not UTF-8, byte by byte
    expect(pieces(b([0xc0, 0xaf]))).toEqual([0xc0, 0xaf]);
    expect(pieces(b([0xed, 0xa0, 0x80]))).toEqual([0xed, 0xa0, 0x80]);
    expect(pieces(b([0xf4, 0x90, 0x80, 0x80]))).toEqual([0xf4, 0x90, 0x80, 0x80]);
    expect(pieces(b('é€𝄞'))).toEqual(['é€𝄞']);
  });
  it('reverses text by grapheme and keeps stray bytes whole', () => {
    expect(reverseBytes(b('ab', [0xe9], 'c'))).toEqual(b('c', [0xe9], 'ba'));
    expect(reverseBytes(b('xe\u0301y'))).toEqual(b('ye\u0301x'));
  });
});
