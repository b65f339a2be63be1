// The bounded cache of vouched (name, credential) pairs, with a given clock.
import { describe, expect, it } from 'vitest';
import { VouchCache } from './vouch-cache.js';

describe('VouchCache', () => {
  it('knows a pair it was given, for that name and credential only', () => {
    const c = new VouchCache({ now: () => 0 });
    c.add('ping', 'cred-a');
    expect(c.has('ping', 'cred-a')).toBe(true);
    expect(c.has('ping', 'cred-b')).toBe(false);
    expect(c.has('pong', 'cred-a')).toBe(false);
  });

  it('forgets a pair once its time is over', () => {
    let t = 1000;
    const c = new VouchCache({ ttlMs: 500, now: () => t });
    c.add('ping', 'cred');
    t = 1499;
    expect(c.has('ping', 'cred')).toBe(true);
    t = 1500;
    expect(c.has('ping', 'cred')).toBe(false);
    expect(c.size).toBe(0);
  });

  it('holds at most max pairs, the oldest going first', () => {
    const c = new VouchCache({ max: 2, now: () => 0 });
    c.add('a', '1');
    c.add('b', '2');
    c.add('a', '1'); // seen again: now the newest
    c.add('c', '3');
    expect(c.size).toBe(2);
    expect(c.has('b', '2')).toBe(false);
    expect(c.has('a', '1')).toBe(true);
    expect(c.has('c', '3')).toBe(true);
  });
});
