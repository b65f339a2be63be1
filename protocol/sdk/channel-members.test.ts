import { describe, expect, it } from 'vitest';
import { parseLine } from '../irc-line.js';
import { ChannelMembers } from './channel-members.js';

const feed = (m: ChannelMembers, ...lines: string[]) => { for (const l of lines) m.see('net', parseLine(l)!, 'Hive'); };

describe('ChannelMembers', () => {
  it('learns members from NAMES, JOIN, PART, KICK, QUIT and NICK', () => {
    const m = new ChannelMembers();
    feed(m, ':Hive!h@x JOIN #One', ':srv 353 Hive = #one :Hive @Alice +bob carol!c@host', ':srv 366 Hive #one :End of NAMES');
    expect(m.members('net', '#ONE').sort()).toEqual(['Alice', 'Hive', 'bob', 'carol']);
    expect(m.has('net', '#one', 'ALICE')).toBe(true);
    feed(m, ':dave!d@x JOIN #one', ':bob!b@x PART #one :bye', ':Alice!a@x KICK #one carol :out', ':dave!d@x NICK :David');
    expect(m.members('net', '#one').sort()).toEqual(['Alice', 'David', 'Hive']);
    feed(m, ':David!d@x QUIT :gone');
    expect(m.has('net', '#one', 'david')).toBe(false);
    expect(m.visible('net', 'alice')).toBe(true);
    expect(m.visible('other', 'alice')).toBe(false);
    // The bot leaving forgets the channel.
    feed(m, ':Hive!h@x PART #one');
    expect(m.channels('net')).toEqual([]);
  });

  it('strips several membership prefixes (multi-prefix)', () => {
    const m = new ChannelMembers();
    feed(m, ':srv 353 Hive = #m :Hive ~&erin @+frank', ':srv 366 Hive #m :End');
    expect(m.members('net', '#m').sort()).toEqual(['Hive', 'erin', 'frank']);
  });

  it('a new NAMES reply replaces the old list; the bot being kicked forgets the channel', () => {
    const m = new ChannelMembers();
    feed(m, ':srv 353 Hive = #a :Hive x y', ':srv 366 Hive #a :End');
    feed(m, ':srv 353 Hive = #a :Hive z', ':srv 366 Hive #a :End');
    expect(m.members('net', '#a').sort()).toEqual(['Hive', 'z']);
    expect(m.complete('net', '#A')).toBe(true);
    feed(m, ':op!o@x KICK #a Hive :bye');
    expect(m.has('net', '#a', 'z')).toBe(false);
    expect(m.complete('net', '#a')).toBe(false);
    // Joining again: complete only once the new NAMES reply has ended.
    feed(m, ':Hive!h@x JOIN #a');
    expect(m.complete('net', '#a')).toBe(false);
    feed(m, ':srv 353 Hive = #a :Hive z', ':srv 366 Hive #a :End');
    expect(m.complete('net', '#a')).toBe(true);
  });

  it('tracks accounts from extended-join and account-notify, and forgets them with the user', () => {
    const m = new ChannelMembers();
    feed(m, ':Hive!h@x JOIN #a * :bot', ':alice!a@x JOIN #a alice_acct :Alice', ':bob!b@x JOIN #a * :Bob');
    expect(m.account('net', 'ALICE')).toBe('alice_acct');
    expect(m.account('net', 'bob')).toBe('');
    expect(m.account('net', 'nobody')).toBeUndefined();
    feed(m, ':bob!b@x ACCOUNT bobby', ':alice!a@x ACCOUNT *', ':bob!b@x NICK robert');
    expect(m.account('net', 'robert')).toBe('bobby');
    expect(m.account('net', 'alice')).toBe('');
    feed(m, ':robert!b@x PART #a');
    expect(m.account('net', 'robert')).toBeUndefined();
  });
});
