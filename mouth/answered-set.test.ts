import { describe, expect, it } from 'vitest';
import { AnsweredSet } from './answered-set.js';

describe('AnsweredSet', () => {
  it('drops a reply to a replayed message that was already answered by the same node', () => {
    const a = new AnsweredSet();
    expect(a.admit('echo', 'm1', false)).toBe(true);
    expect(a.admit('echo', 'm1', true)).toBe(false);
    expect(a.admit('other', 'm1', true)).toBe(true);
    expect(a.admit('echo', 'm2', true)).toBe(true);
    expect(a.admit('echo', 'm2', true)).toBe(false);
  });
  it('lets a node answer one message twice when nothing was replayed', () => {
    const a = new AnsweredSet();
    expect(a.admit('echo', 'm1', false)).toBe(true);
    expect(a.admit('echo', 'm1', false)).toBe(true);
  });
  it('one message answered on two networks is two replies', () => {
    const a = new AnsweredSet();
    expect(a.admit('bridge', 'm1', false, 'a')).toBe(true);
    expect(a.admit('bridge', 'm1', true, 'b')).toBe(true);
    expect(a.admit('bridge', 'm1', true, 'a')).toBe(false);
    expect(a.admit('bridge', 'm1', true, 'b')).toBe(false);
  });
  it('forgets the oldest replies beyond its size', () => {
    const a = new AnsweredSet(2);
    a.admit('n', '1', false); a.admit('n', '2', false); a.admit('n', '3', false);
    expect(a.admit('n', '1', true)).toBe(true);
    expect(a.admit('n', '3', true)).toBe(false);
  });
});
