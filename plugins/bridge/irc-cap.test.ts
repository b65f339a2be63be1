import { describe, expect, it } from 'vitest';
import { capForIrc } from './irc-cap.js';

const text = (lines: Buffer[]) => lines.map((l) => l.toString('utf8'));

describe('capForIrc', () => {
  it('keeps what fits: short lines up to max_lines', () => {
    const b = ['a', 'b', 'c'].map((t) => Buffer.from(t));
    expect(capForIrc(b, 3)).toEqual({ lines: b, cut: 0 });
  });

  it('cuts whole lines past max_lines, saying how many', () => {
    const r = capForIrc(Array.from({ length: 50 }, (_, i) => Buffer.from(`l${i}`)), 3);
    expect(text(r.lines)).toEqual(['l0', 'l1', '(… 48 more lines)']);
    expect(r.cut).toBe(48);
  });

  it('hostile: one 16 KB line counts as the ~40 IRC lines it becomes, cut to max_lines × 400 bytes at most', () => {
    const r = capForIrc([Buffer.from('é'.repeat(8000))], 10);
    const bytes = r.lines.slice(0, -1).reduce((n, l) => n + l.length, 0);
    expect(bytes).toBeLessThanOrEqual(9 * 400);
    expect(bytes).toBeGreaterThan(8 * 400);
    expect(r.lines.at(-1)!.toString()).toBe(`(… ${16000 - bytes} more bytes)`);
    // Not cut inside a character.
    expect(r.lines[0]!.toString('utf8')).not.toContain('\ufffd');
    expect(r.cut).toBe(1);
  });

  it('hostile: a long line after short ones is cut where the budget ends', () => {
    const r = capForIrc([Buffer.from('hi'), Buffer.from('x'.repeat(5000)), Buffer.from('after')], 4);
    expect(r.lines.map((l) => l.length)).toEqual([2, 800, expect.any(Number)]);
    expect(text(r.lines).at(-1)).toBe(`(… ${5000 - 800 + 5} more bytes)`);
    expect(r.cut).toBe(2);
  });
});
