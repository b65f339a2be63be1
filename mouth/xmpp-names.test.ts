import { describe, expect, it } from 'vitest';
import { channelOfRoom, ircSafeNick, maskPart, MAX_NICK, NickTable, roomOfChannel } from './xmpp-names.js';

describe('xmpp names', () => {
  it('maps rooms to channels and back', () => {
    expect(channelOfRoom('Hive@Conference.Example.org')).toBe('#hive@conference.example.org');
    expect(roomOfChannel('#hive@conference.example.org')).toBe('hive@conference.example.org');
    for (const bad of ['hive@c.org', '#hive', '#a b@c', '#@c.org', '#a@b@c', `#${'a'.repeat(300)}@c.org`]) expect(roomOfChannel(bad)).toBeUndefined();
  });

  it('makes any XMPP nick an IRC nick, bounded', () => {
    expect(ircSafeNick('alice')).toBe('alice');
    expect(ircSafeNick('9 lives! ☺')).toBe('_9_lives___');
    expect(ircSafeNick('-x')).toBe('_-x');
    expect(ircSafeNick('')).toBe('_');
    expect(ircSafeNick('👩‍🚀')).toBe('___');
    expect(ircSafeNick('x'.repeat(100))).toHaveLength(MAX_NICK);
    expect(ircSafeNick('1'.repeat(100))).toHaveLength(MAX_NICK);
    expect(maskPart('a b!c@d\x01')).toBe('a_b_c_d_');
  });

  it('keeps nicks unique, maps them back, forgets the oldest past its bound', () => {
    const t = new NickTable<string>(3);
    expect(t.nickFor('alice', 'a1')).toBe('alice');
    expect(t.nickFor('Alice', 'a2')).toBe('Alice2');
    expect(t.nickFor('ali ce', 'a3', 'ali ce')).toBe('ali_ce');
    expect(t.lookup('ALICE2')).toMatchObject({ name: 'Alice', value: 'a2' });
    expect(t.nickFor('alice', 'a1b')).toBe('alice');
    expect(t.lookup('alice')!.value).toBe('a1b');
    // 'Alice' is now the oldest: a fourth name pushes it out.
    expect(t.nickFor('bob@x', 'b', 'bob')).toBe('bob');
    expect(t.size).toBe(3);
    expect(t.lookup('Alice2')).toBeUndefined();
    t.forget('alice');
    expect(t.lookup('alice')).toBeUndefined();
    expect(t.nickFor('alice[1]', 'c')).toBe('alice[1]');
    // rfc1459 folding: {} and [] are one.
    expect(t.lookup('ALICE{1}')!.name).toBe('alice[1]');
  });

  it('gives no one a reserved nick', () => {
    const t = new NickTable<string>(10, (folded) => folded === 'hive{bot}');
    expect(t.nickFor('hive[bot]', 'x')).toBe('hive[bot]2');
    expect(t.nickFor('carol', 'y')).toBe('carol');
  });
});
