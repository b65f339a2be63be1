// The outbound path of one network without a server: checks, shares, limits and their counters.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createAllowList } from './allow-list.js';
import { AUTO_SHARE, Outbound, type Sender } from './outbound.js';
import { OutboundRefused } from './outbound-error.js';
import { createTokenBucket } from './token-bucket.js';

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
});
