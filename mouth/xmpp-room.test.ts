import { describe, expect, it } from 'vitest';
import { MAX_RENAMES, XmppRoom } from './xmpp-room.js';

describe('XmppRoom', () => {
  it('keeps at most MAX_RENAMES nick changes waiting for their presence, each taken once', () => {
    const room = new XmppRoom('r@c', 'hivebot');
    for (let i = 0; i < 3 * MAX_RENAMES; i++) room.renamed(`n${i}`);
    expect(room.pendingRenames).toBe(MAX_RENAMES);
    // The oldest went first; the newest are kept.
    expect(room.takeRename('n0')).toBe(false);
    expect(room.takeRename(`n${3 * MAX_RENAMES - 1}`)).toBe(true);
    expect(room.takeRename(`n${3 * MAX_RENAMES - 1}`)).toBe(false);
  });

  it('maps a correction only to an id the same occupant sent, also when the room gave it no other id', () => {
    const room = new XmppRoom('r@c', 'hivebot');
    room.rememberId('alice', 'a-1', 'a-1');
    room.rememberId('alice', 'a-2', 'room-2');
    expect(room.msgidOf('alice', 'a-1')).toBe('a-1');
    expect(room.msgidOf('alice', 'a-2')).toBe('room-2');
    expect(room.msgidOf('mallory', 'a-1')).toBeUndefined();
    expect(room.msgidOf('mallory', 'room-2')).toBeUndefined();
  });

  it('gives lines an IRC-safe bot nick whatever the room chose', () => {
    const room = new XmppRoom('r@c', 'hivebot');
    room.nick = 'x!o@h PRIVMSG #c :hi\r\nQUIT';
    expect(room.ircNick).toMatch(/^[A-Za-z_[\]\\`^{|}][A-Za-z0-9[\]\\`_^{|}-]{0,31}$/);
    // No occupant gets that nick as theirs.
    expect(room.occupants.nickFor('other', { full: 'r@c/other' }, room.ircNick)).not.toBe(room.ircNick);
  });
});
