// The outbound path of one network without a server: checks, shares, limits and their counters.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createAllowList } from './allow-list.js';
import { parseLine } from '../protocol/irc-line.js';
import { AUTO_SHARE, Outbound, SPEAKERS_MAX, speakerOf, Speakers, type Sender } from './outbound.js';
import { OutboundRefused } from './outbound-error.js';
import { createTokenBucket } from '../protocol/token-bucket.js';

const log = pino({ level: 'silent' });

function outbound(queueMax = 50, open = false) {
  const written: string[] = [];
  const o = new Outbound({
    allowList: createAllowList(),
    bucket: createTokenBucket({ ratePerSec: Infinity }),
    queueMax,
    prefixLength: () => 30,
    write: (l) => written.push(l.toString('latin1')),
    log,
    lookups: { perSender: { burst: 3, ratePerSec: 0.001 }, overall: { burst: 5, ratePerSec: 0.001 } },
  });
  if (open) o.setOpen(true);
  return { o, written };
}

const from = (via: string, origin = via): Sender => ({ via, origin });
const L = (s: string) => Buffer.from(s, 'latin1');
const code = (fn: () => void) => { try { fn(); } catch (e) { return (e as OutboundRefused).code; } return undefined; };

describe('Outbound', () => {
  it('refuses JOIN 0 and a CTCP request, counts each by code, and sends neither', () => {
    const { o, written } = outbound(50, true);
    expect(code(() => o.submit(from('echo'), [L('JOIN 0')]))).toBe('JoinZero');
    expect(code(() => o.submit(from('echo'), [L('PRIVMSG #c :\x01VERSION\x01')]))).toBe('CtcpNotAllowed');
    // All or nothing: a good line with a bad one goes nowhere either.
    expect(code(() => o.submit(from('echo'), [L('PRIVMSG #c :hi'), L('PRIVMSG #c :\x01DCC SEND x\x01')]))).toBe('CtcpNotAllowed');
    o.submit(from('echo'), [L('PRIVMSG #c :\x01ACTION waves\x01')]);
    o.submit({ via: 'ctcp', origin: 'ctcp', ctcp: true }, [L('NOTICE bob :\x01TIME noon\x01')]);
    expect(written).toEqual(['PRIVMSG #c :\x01ACTION waves\x01', 'NOTICE bob :\x01TIME noon\x01']);
    expect(o.counters()).toMatchObject({ refused: 3, refused_JoinZero: 1, refused_CtcpNotAllowed: 2, sent: 2 });
  });

  it('limits lookups per sender and overall (RateLimited), and counts them', () => {
    const { o } = outbound();
    const who = (via: string) => code(() => o.submit(from(via), [L('WHO #c %tna,471')]));
    expect([who('auth'), who('auth'), who('auth'), who('auth')]).toEqual([undefined, undefined, undefined, 'RateLimited']);
    expect([who('seen'), who('seen'), who('seen')]).toEqual([undefined, undefined, 'RateLimited']);
    // Other messages of a limited sender still go.
    expect(code(() => o.submit(from('auth'), [L('PRIVMSG #c :hello')]))).toBeUndefined();
    expect(o.counters().refused_RateLimited).toBe(2);
  });

  it('a lookup refused by the queue (QueueFull) uses up no rate token', () => {
    const { o, written } = outbound(4); // senderMax max(1, 4/2) = 2; lookups: 3 per sender at once
    o.submit(from('auth'), [L('PRIVMSG #c :a')]);
    o.submit(from('auth'), [L('PRIVMSG #c :b')]);
    const who = () => code(() => o.submit(from('auth'), [L('WHO #c %tna,471')]));
    expect([who(), who(), who(), who(), who()]).toEqual(Array(5).fill('QueueFull'));
    o.setOpen(true);
    // The share is free again, and the sender's lookup bucket is still full.
    expect([who(), who(), who(), who()]).toEqual([undefined, undefined, undefined, 'RateLimited']);
    expect(written.filter((l) => l.startsWith('WHO'))).toHaveLength(3);
    expect(o.counters()).toMatchObject({ refused_QueueFull: 5, refused_RateLimited: 1 });
  });

  it('gives the CTCP answers a small share of their own, and the plugins theirs', () => {
    const { o } = outbound(50);
    for (let i = 0; i < 20; i++) o.ctcp.request({ nick: `u${i}`, hostname: `h${i}`, type: 'VERSION', message: 'VERSION' });
    // Limited by the overall CTCP bucket (5) and the queue share (AUTO_SHARE) while closed.
    expect(o.ctcp.stats.answered).toBeLessThanOrEqual(AUTO_SHARE);
    expect(o.ctcp.stats.answered + o.ctcp.stats.dropped).toBe(20);
    o.submit(from('ping'), [L('PRIVMSG #c :pong')]);
    expect(o.counters()).toMatchObject({ ctcp_dropped: 20 - o.ctcp.stats.answered, waiting: o.ctcp.stats.answered + 1 });
  });

  it('a leaf claiming many origins cannot take more than its child\'s share from the others', () => {
    const { o, written } = outbound(10);
    let refused = 0;
    for (let i = 0; i < 100; i++) if (code(() => o.submit(from('liar', `origin${i}`), [L(`PRIVMSG #c :${i}`)]))) refused++;
    expect(refused).toBeGreaterThan(90);
    o.submit(from('ping'), [L('PRIVMSG #c :pong')]);
    o.setOpen(true);
    expect(written.indexOf('PRIVMSG #c :pong')).toBeLessThanOrEqual(1);
  });

  it('refuses a user past their share of a plugin\'s replies (UserShare), counts it, and still queues another user\'s', () => {
    const { o, written } = outbound(100); // userMax max(2, 100/50) = 2
    const to = (user: string) => code(() => o.submit({ via: 'ping', origin: 'ping', user }, [L(`PRIVMSG #c :pong ${user}`)]));
    expect([to('m@evil'), to('m@evil'), to('m@evil'), to('m@evil')]).toEqual([undefined, undefined, 'UserShare', 'UserShare']);
    expect(to('a@home')).toBeUndefined();
    expect(o.counters()).toMatchObject({ refused: 2, refused_UserShare: 2, waiting: 3 });
    o.setOpen(true);
    expect(written).toEqual(['PRIVMSG #c :pong m@evil', 'PRIVMSG #c :pong a@home', 'PRIVMSG #c :pong m@evil']);
  });
});

/** What the network hands the sink for a line it parsed (irc-network.ts inbound). */
const spoke = (line: string) => { const p = parseLine(line); return p && speakerOf(p); };

describe('speakerOf', () => {
  it('is user@host of the prefix of a user\'s PRIVMSG, NOTICE or TAGMSG, lower-cased; nothing for a server or a bare nick', () => {
    expect(spoke(':Alice!~Al@Example.ORG PRIVMSG #c :!ping')).toBe('~al@example.org');
    expect(spoke('@time=2024-01-01T00:00:00Z;account=al :alice!a@h PRIVMSG #c :hi')).toBe('a@h');
    expect(spoke('@a=b  :alice!a@h NOTICE bot :hi')).toBe('a@h');
    expect(spoke('@+typing=active :alice!a@h TAGMSG #c')).toBe('a@h');
    expect(spoke(':irc.test NOTICE hivebot :hi')).toBeUndefined();
    expect(spoke(':alice PRIVMSG #c :x!y@z')).toBeUndefined();
    expect(spoke(':alice!a PRIVMSG #c :y@z')).toBeUndefined();
    expect(spoke('PRIVMSG #c :x!y@z')).toBeUndefined();
  });

  it('is nothing for lines that are nobody\'s command: JOIN, PART, QUIT, MODE, NICK, numerics', () => {
    for (const l of [':alice!a@h JOIN #c', ':alice!a@h PART #c', ':alice!a@h QUIT :bye', ':alice!a@h MODE #c +o bob',
      ':alice!a@h NICK alice_', ':alice!a@h 001 hivebot :Welcome']) expect(spoke(l)).toBeUndefined();
  });

  it('keeps a nick change in the same share: the nick is not part of it', () => {
    expect(spoke(':alice!a@h PRIVMSG #c :!ping')).toBe(spoke(':alice_!a@h PRIVMSG #c :!ping'));
  });
});

describe('Speakers', () => {
  it('remembers the last ids only, forgetting the oldest first', () => {
    const s = new Speakers(3);
    for (const i of [1, 2, 3, 4]) s.remember(`id${i}`, `u${i}@h`);
    expect([s.get('id1'), s.get('id2'), s.get('id4')]).toEqual([undefined, 'u2@h', 'u4@h']);
  });

  it('a JOIN storm does not evict a pending command\'s speaker', () => {
    // As the mouth's sink does (main.ts): remember the speaker the network found, if any.
    const s = new Speakers();
    const line = (id: string, text: string) => { const who = spoke(text); if (who !== undefined) s.remember(id, who); };
    line('cmd', ':alice!a@h PRIVMSG #c :!ping');
    for (let i = 0; i < SPEAKERS_MAX + 1000; i++) {
      line(`j${i}`, `:u${i}!x@h${i} JOIN #c${i}`);
      line(`m${i}`, `:srv.test 353 hivebot = #c${i} :u${i}`);
    }
    expect(s.get('cmd')).toBe('a@h');
  });
});
