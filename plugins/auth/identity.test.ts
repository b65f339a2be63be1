// The pure part of the auth filter: hostmask globs, accounts learnt from the lines passing down
// (account-tag, extended-join, account-notify, WHOX), and capabilities as the union of the grants.
import { describe, expect, it } from 'vitest';
import { parseLine } from '../../protocol/sdk/index.js';
import { describe as whoami, Identities, maskMatches, WHOX_TOKEN } from './identity.js';

const L = (s: string) => parseLine(s)!;
const grants = { accounts: { Alice: ['admin'], bob: ['notes.delete'] }, masks: { '*!*@trusted.example': ['autorespond.edit'], 'carol!*@*': ['stats.reset'] }, default: ['chat'] };

describe('maskMatches', () => {
  it('matches * and ? globs, case-insensitively, and nothing else', () => {
    expect(maskMatches('*!*@host.example', 'alice!~a@host.example')).toBe(true);
    expect(maskMatches('*!*@HOST.example', 'Alice!~a@host.EXAMPLE')).toBe(true);
    expect(maskMatches('*!*@host.example', 'alice!~a@evilhost.example')).toBe(false);
    expect(maskMatches('*!*@host.example', 'alice!~a@host.example.evil')).toBe(false);
    expect(maskMatches('b?b!*@*', 'bob!x@y')).toBe(true);
    expect(maskMatches('b?b!*@*', 'boob!x@y')).toBe(false);
    // Regex characters in a mask are literal.
    expect(maskMatches('*!*@1.2.3.4', 'a!b@1x2x3x4')).toBe(false);
    expect(maskMatches('x[1]!*@*', 'X{1}!u@h')).toBe(true); // rfc1459: [ ] fold to { }
  });
});

describe('Identities', () => {
  it('takes the account from the account-tag and treats a missing tag as logged out from then on', () => {
    const ids = new Identities(grants);
    const a = ids.identify('n', L(':alice!a@h PRIVMSG #c :hi'), 'alice')!;
    expect(a.who.account).toBe('alice');
    expect(a.who.capabilities).toEqual(['admin', 'chat']);
    const b = ids.identify('n', L(':bob!b@h PRIVMSG #c :hi'), undefined)!;
    expect(b.who.account).toBe('');
    expect(b.who.capabilities).toEqual(['chat']);
    expect(b.ask).toBeUndefined();
  });

  it('learns accounts from extended-join, account-notify and WHOX, and forgets them on QUIT', () => {
    const ids = new Identities(grants);
    ids.see('n', L(':bob!b@h JOIN #c bob :Bob B'), 'me');
    expect(ids.identify('n', L(':bob!b@h PRIVMSG #c :x'), undefined)!.who).toMatchObject({ account: 'bob', capabilities: ['chat', 'notes.delete'] });
    ids.see('n', L(':bob!b@h ACCOUNT *'), 'me');
    expect(ids.identify('n', L(':bob!b@h PRIVMSG #c :x'), undefined)!.who.account).toBe('');
    ids.see('n', L(':bob!b@h ACCOUNT bob'), 'me');
    expect(ids.identify('n', L(':bob!b@h PRIVMSG #c :x'), undefined)!.who.account).toBe('bob');
    ids.see('n', L(`:irc.test 354 me ${WHOX_TOKEN} dave ALICE`), 'me');
    expect(ids.identify('n', L(':dave!d@h PRIVMSG #c :x'), undefined)!.who.capabilities).toEqual(['admin', 'chat']);
    // Someone else's WHOX token is not ours to trust.
    ids.see('n', L(':irc.test 354 me 999 erin alice'), 'me');
    expect(ids.identify('n', L(':erin!e@h PRIVMSG #d :x'), undefined)!.who.account).toBeUndefined();
    ids.see('n', L(`:irc.test 354 me ${WHOX_TOKEN} frank 0`), 'me');
    expect(ids.identify('n', L(':frank!f@h PRIVMSG #c :x'), undefined)!.who.account).toBe('');
    ids.see('n', L(':bob!b@h QUIT :bye'), 'me');
    expect(ids.identify('n', L(':bob!b@h PRIVMSG me :x'), undefined)!.who.account).toBeUndefined();
  });

  it('asks WHOX once per channel: when the bot joins, or when an unknown speaks; never where WHOX is missing', () => {
    const ids = new Identities(grants);
    expect(ids.see('n', L(':me!m@h JOIN #c'), 'me')).toBe('#c');
    expect(ids.see('n', L(':other!o@h JOIN #c'), 'me')).toBeUndefined();
    expect(ids.identify('n', L(':x!x@h PRIVMSG #c :hi'), undefined)!.ask).toBeUndefined(); // already asked
    expect(ids.identify('n', L(':x!x@h PRIVMSG #d :hi'), undefined)!.ask).toBe('#d');
    expect(ids.identify('n', L(':y!y@h PRIVMSG #d :hi'), undefined)!.ask).toBeUndefined();
    expect(ids.identify('n', L(':y!y@h PRIVMSG me :hi'), undefined)!.ask).toBeUndefined(); // private: no channel to ask
    // A new connection to a server without WHOX in its ISUPPORT: never.
    ids.connecting('n');
    ids.see('n', L(':irc.test 005 me CHANTYPES=# PREFIX=(ov)@+ :are supported'), 'me');
    expect(ids.see('n', L(':me!m@h JOIN #c'), 'me')).toBeUndefined();
    ids.connecting('n');
    ids.see('n', L(':irc.test 005 me WHOX NETWORK=x :are supported'), 'me');
    expect(ids.see('n', L(':me!m@h JOIN #c'), 'me')).toBe('#c');
    // With account-tag acknowledged, a speaker's account is always known: nothing to ask.
    ids.see('n', L(':irc.test CAP me ACK :extended-join account-tag'), 'me');
    expect(ids.identify('n', L(':z!z@h PRIVMSG #e :hi'), undefined)).toMatchObject({ who: { account: '' }, ask: undefined });
  });

  it('adds every matching mask and the default set; whoami tells it all', () => {
    const ids = new Identities(grants);
    const who = ids.identify('n', L(':Carol!c@Trusted.Example PRIVMSG #c :x'), undefined)!.who;
    expect(who.masks).toEqual(['*!*@trusted.example', 'carol!*@*']);
    expect(who.capabilities).toEqual(['autorespond.edit', 'chat', 'stats.reset']);
    expect(whoami(who)).toBe('Carol (Carol!c@Trusted.Example): account unknown; matching masks: *!*@trusted.example, carol!*@*; capabilities: autorespond.edit, chat, stats.reset');
    expect(whoami(new Identities({ accounts: {}, masks: {}, default: [] }).grant('x', 'x!y@z', ''))).toBe('x (x!y@z): account not logged in; matching masks: none; capabilities: none');
    // A server's own line has no speaker.
    expect(ids.identify('n', L(':irc.test 001 me :Welcome'), undefined)).toBeUndefined();
  });
});
