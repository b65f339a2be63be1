import { describe, expect, it } from 'vitest';
import { LineSplitter } from './irc-transport.js';

function split(max: number, chunks: (string | Buffer)[]): { lines: string[]; ok: boolean[] } {
  const s = new LineSplitter(max);
  const lines: string[] = [];
  const ok = chunks.map((c) => s.push(Buffer.isBuffer(c) ? c : Buffer.from(c, 'latin1'), (l) => lines.push(l.toString('latin1'))));
  return { lines, ok };
}

describe('LineSplitter', () => {
  it('splits on LF, drops one CR before it and empty lines, across chunks', () => {
    expect(split(100, ['a\r\nb', 'c\n\r\n\nd', 'e\r', '\nf'])).toEqual({ lines: ['a', 'bc', 'de'], ok: [true, true, true, true] });
  });

  it('keeps bytes as they are (a lone CR inside a line, NUL, invalid UTF-8)', () => {
    const s = new LineSplitter(100);
    const got: Buffer[] = [];
    s.push(Buffer.from([0x61, 0x0d, 0x62, 0x00, 0xff, 0x0d, 0x0a]), (l) => got.push(Buffer.from(l)));
    expect(got).toEqual([Buffer.from([0x61, 0x0d, 0x62, 0x00, 0xff])]);
  });

  it('takes a line of exactly max bytes, split anywhere, even with its CR in the next chunk', () => {
    const line = 'x'.repeat(10);
    expect(split(10, [line, '\r', '\n'])).toEqual({ lines: [line], ok: [true, true, true] });
    expect(split(10, [`${line}\r\n`])).toEqual({ lines: [line], ok: [true] });
  });

  it('refuses a line longer than max, whether or not its end has come, without holding it', () => {
    expect(split(10, ['a\n', 'x'.repeat(11) + '\r\nb\n'])).toEqual({ lines: ['a'], ok: [true, false] });
    const s = new LineSplitter(10);
    expect(s.push(Buffer.from('ok\n' + 'y'.repeat(6)), () => undefined)).toBe(true);
    expect(s.held).toBe(6);
    expect(s.push(Buffer.from('y'.repeat(6)), () => undefined)).toBe(false);
    // Megabytes without a line end cost one scan, not a copy per chunk.
    const big = new LineSplitter(8704);
    let refused = false;
    for (let i = 0; i < 100 && !refused; i++) refused = !big.push(Buffer.alloc(65536, 0x41), () => undefined);
    expect(refused).toBe(true);
    expect(big.held).toBeGreaterThan(8704);
  });
});
