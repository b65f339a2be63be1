import { describe, expect, it } from 'vitest';
import { Members } from './members.js';

describe('Members', () => {
  it('follows NAMES, joins, parts, quits and nick changes', () => {
    const m = new Members();
    m.names('a\0#x', '@Alice +bob ~&carol dave!d@host');
    expect(['alice', 'BOB', 'carol', 'dave'].map((n) => m.has('a\0#x', n))).toEqual([true, true, true, true]);
    m.join('a\0#y', 'alice');
    m.part('a\0#x', 'bob');
    expect(m.has('a\0#x', 'bob')).toBe(false);
    expect(m.rename(['a\0#x', 'a\0#y', 'a\0#z'], 'ALICE', 'alice2')).toEqual(['a\0#x', 'a\0#y']);
    expect(m.has('a\0#y', 'alice2')).toBe(true);
    expect(m.quit(['a\0#x', 'a\0#y'], 'alice2')).toEqual(['a\0#x', 'a\0#y']);
    expect(m.quit(['a\0#x', 'a\0#y'], 'alice2')).toEqual([]);
    m.clearWhere((k) => k.startsWith('a\0'));
    expect(m.has('a\0#x', 'carol')).toBe(false);
  });
});
