import { describe, expect, it } from 'vitest';
import { AnsweredSet } from './answered-set.js';

describe('AnsweredSet', () => {
  it('drops a reply to a replayed message that was already answered by the same node', () => {
    const a = new AnsweredSet();
    expect(a.admit('echo', 'echo', 'm1', false)).toBe(true);
    expect(a.admit('echo', 'echo', 'm1', true)).toBe(false);
    expect(a.admit('other', 'other', 'm1', true)).toBe(true);
    expect(a.admit('echo', 'echo', 'm2', true)).toBe(true);
    expect(a.admit('echo', 'echo', 'm2', true)).toBe(false);
  });
  it('lets a node answer one message twice when nothing was replayed', () => {
    const a = new AnsweredSet();
    expect(a.admit('echo', 'echo', 'm1', false)).toBe(true);
    expect(a.admit('echo', 'echo', 'm1', false)).toBe(true);
  });
  it('one message answered on two networks is two replies', () => {
    const a = new AnsweredSet();
    expect(a.admit('bridge', 'bridge', 'm1', false, 'a')).toBe(true);
    expect(a.admit('bridge', 'bridge', 'm1', true, 'b')).toBe(true);
    expect(a.admit('bridge', 'bridge', 'm1', true, 'a')).toBe(false);
    expect(a.admit('bridge', 'bridge', 'm1', true, 'b')).toBe(false);
  });
  // Issue 14, item 9: the key was the claimed hive.origin alone, so another child claiming to be
  // `echo` could make echo's own answer to a replayed message look like a second one.
  it('keys on the verified child too: a claimed origin cannot shadow another child\'s answers', () => {
    const a = new AnsweredSet();
    expect(a.admit('evil', 'echo', 'm1', false)).toBe(true);
    expect(a.admit('echo', 'echo', 'm1', true)).toBe(true);
    expect(a.admit('echo', 'echo', 'm1', true)).toBe(false);
  });
  it('a node that answered as the mouth\'s own child, then answers the replay through a filter it was moved back under, is a duplicate', () => {
    const a = new AnsweredSet();
    expect(a.admit('b', 'b', 'm1', false)).toBe(true);
    expect(a.admit('f1', 'b', 'm1', true)).toBe(false);
    // Not the other way round: a claim through a filter is only as good as the filter.
    const c = new AnsweredSet();
    expect(c.admit('f1', 'b', 'm2', false)).toBe(true);
    expect(c.admit('b', 'b', 'm2', true)).toBe(true);
  });
  it('forgets the oldest replies beyond its size', () => {
    const a = new AnsweredSet(2);
    a.admit('n', 'n', '1', false); a.admit('n', 'n', '2', false); a.admit('n', 'n', '3', false);
    expect(a.admit('n', 'n', '1', true)).toBe(true);
    expect(a.admit('n', 'n', '3', true)).toBe(false);
  });
});
