import { describe, expect, it } from 'vitest';
import { isProcessUnder } from './process-tree.js';

describe('isProcessUnder', () => {
  const parents: Record<number, number> = { 30: 20, 20: 10, 10: 1, 40: 1 };
  const parentOf = (pid: number) => parents[pid];
  it('is true for the process itself and anything below it', () => {
    expect(isProcessUnder(10, 10, parentOf)).toBe(true);
    expect(isProcessUnder(30, 10, parentOf)).toBe(true);
  });
  it('is false for a process elsewhere, and for init', () => {
    expect(isProcessUnder(40, 10, parentOf)).toBe(false);
    expect(isProcessUnder(10, 30, parentOf)).toBe(false);
    expect(isProcessUnder(1, 1, parentOf)).toBe(false);
  });
  it('reads the real /proc: this process is under its parent', () => {
    expect(isProcessUnder(process.pid, process.ppid)).toBe(true);
    expect(isProcessUnder(process.ppid, process.pid)).toBe(false);
  });
});
