import { describe, expect, it } from 'vitest';
import { MAX_REMEMBERED_TEXT, MessageMemory } from './message-memory.js';

describe('MessageMemory', () => {
  it('finds a message by its id in each place it went, and the latest line of a nick', () => {
    const m = new MessageMemory({ maxEntries: 10, ttlMs: 1000 });
    const e = m.add('j/#a', 'alice', 'hello there', 'x1', 0);
    m.setId(e, 'j/#b', 'copy1');
    expect(m.find('j/#a', 'x1', 5)).toBe(e);
    expect(m.find('j/#b', 'copy1', 5)).toBe(e);
    // An id is per place: the same id elsewhere is another message.
    expect(m.find('j/#b', 'x1', 5)).toBeUndefined();
    expect(m.lastOf('j/#a', 'ALICE', 5)).toBe(e);
    const e2 = m.add('j/#a', 'alice', 'again', undefined, 6);
    expect(m.lastOf('j/#a', 'alice', 7)).toBe(e2);
    expect(m.lastOf('j/#b', 'alice', 7)).toBeUndefined();
  });

  it('a second id in one place (a correction\'s own) finds the message without replacing the first', () => {
    const m = new MessageMemory({ maxEntries: 10, ttlMs: 1000 });
    const e = m.add('j/#a', 'alice', 'teh', 'x1', 0);
    m.setId(e, 'j/#a', 'x2');
    expect(m.find('j/#a', 'x2', 1)).toBe(e);
    expect(e.ids.get('j/#a')).toBe('x1');
    // An id already taken is not moved to another message.
    const other = m.add('j/#a', 'bob', 'hi', 'y1', 1);
    m.setId(other, 'j/#a', 'x1');
    expect(m.find('j/#a', 'x1', 2)).toBe(e);
  });

  it('is bounded in count (the oldest go first, with all their ids) and in age', () => {
    const m = new MessageMemory({ maxEntries: 3, ttlMs: 100 });
    for (let i = 0; i < 5; i++) m.add('n/#c', `u${i}`, `t${i}`, `id${i}`, i);
    expect(m.size).toBe(3);
    expect(['id0', 'id1', 'id2', 'id3', 'id4'].map((id) => m.find('n/#c', id, 10)?.text)).toEqual([undefined, undefined, 't2', 't3', 't4']);
    expect(m.lastOf('n/#c', 'u0', 10)).toBeUndefined();
    // Too old to find; and forgotten at the next add.
    expect(m.find('n/#c', 'id4', 104)).toBeUndefined();
    expect(m.lastOf('n/#c', 'u4', 104)).toBeUndefined();
    m.add('n/#c', 'v', 'new', 'idn', 200);
    expect(m.size).toBe(1);
  });

  it('keeps a bounded text and a bounded number of ids per message (hostile: huge text, endless corrections)', () => {
    const m = new MessageMemory({ maxEntries: 10, ttlMs: 1000 });
    const e = m.add('n/#c', 'mallory', 'x'.repeat(100_000), 'id', 0);
    expect(e.text).toHaveLength(MAX_REMEMBERED_TEXT);
    expect(e.truncated).toBe(true);
    for (let i = 0; i < 1000; i++) m.setId(e, 'n/#c', `c${i}`);
    expect(e.keys.length).toBeLessThanOrEqual(32);
    expect(m.find('n/#c', 'c999', 1)).toBeUndefined();
    m.update(e, 'short');
    expect([e.text, e.truncated]).toEqual(['short', false]);
  });

  it('hostile: one busy place forgets its own oldest, not the other places\' messages', () => {
    const m = new MessageMemory({ maxEntries: 100, ttlMs: 1000, maxPerPlace: 5 });
    m.add('quiet', 'alice', 'keep me', 'q1', 0);
    for (let i = 0; i < 50; i++) m.add('busy', 'mallory', `spam ${i}`, `b${i}`, 1);
    expect(m.find('quiet', 'q1', 2)?.text).toBe('keep me');
    expect(m.find('busy', 'b44', 2)).toBeUndefined();
    expect(m.find('busy', 'b45', 2)?.text).toBe('spam 45');
    expect(m.size).toBe(6);
    expect(m.lastOf('busy', 'mallory', 2)?.text).toBe('spam 49');
  });
});
