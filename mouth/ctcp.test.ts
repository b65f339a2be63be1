// Issue 14, item 5: one CTCP VERSION a second made the mouth queue one NOTICE per request without
// bound. Now answers are limited per requester and overall, and what is over is dropped and counted.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { CTCP_OVERALL, CTCP_PER_SENDER, CtcpResponder } from './ctcp.js';
import { OutboundRefused } from './outbound-error.js';
import { createSenderLimiter } from './sender-limiter.js';

const log = pino({ level: 'silent' });

function responder(opts: { full?: boolean } = {}) {
  let t = 0;
  const sent: string[] = [];
  const r = new CtcpResponder({
    log,
    now: () => t,
    send: (line) => {
      if (opts.full) throw new OutboundRefused('QueueFull', 'full');
      sent.push(line.toString('latin1'));
    },
  });
  return { r, sent, advance: (ms: number) => { t += ms; } };
}

const req = (nick: string, type: string, message = type, hostname = `${nick}.example`) => ({ nick, hostname, type, message });

describe('CtcpResponder', () => {
  it('answers VERSION and PING', () => {
    const { r, sent } = responder();
    r.request(req('alice', 'VERSION'));
    r.request(req('bob', 'PING', 'PING 12345'));
    expect(sent).toEqual([expect.stringMatching(/^NOTICE alice :\x01VERSION Hive bot .*\x01$/), 'NOTICE bob :\x01PING 12345\x01']);
    expect(r.stats).toEqual({ answered: 2, dropped: 0 });
  });

  it('never answers to a nick that would be several targets or a channel (a hostile server)', () => {
    const { r, sent } = responder();
    for (const nick of ['#chan', 'a,b', '&local', 'x y']) r.request(req(nick, 'VERSION'));
    expect(sent).toEqual([]);
  });

  it('drops a flood from one requester after its burst, counted, and answers again after the refill', () => {
    const { r, sent, advance } = responder();
    for (let i = 0; i < 60; i++) { r.request(req('mallory', 'VERSION')); advance(1000); }
    // 60 s at one a second: the burst, plus one per 30 s.
    expect(sent.length).toBeLessThanOrEqual(CTCP_PER_SENDER.burst + 60 * CTCP_PER_SENDER.ratePerSec);
    expect(r.stats.answered + r.stats.dropped).toBe(60);
    expect(r.stats.dropped).toBeGreaterThanOrEqual(55);
  });

  it('a nick change does not reset the limit (keyed by host)', () => {
    const { r, sent } = responder();
    for (let i = 0; i < 10; i++) r.request(req(`m${i}`, 'VERSION', 'VERSION', 'same.host'));
    expect(sent).toHaveLength(CTCP_PER_SENDER.burst);
  });

  it('many requesters together are held to the overall rate', () => {
    const { r, sent } = responder();
    for (let i = 0; i < 100; i++) r.request(req(`u${i}`, 'VERSION'));
    expect(sent).toHaveLength(CTCP_OVERALL.burst);
    expect(r.stats.dropped).toBe(100 - CTCP_OVERALL.burst);
  });

  it('counts an answer the queue refused as dropped, and ignores what it does not answer', () => {
    const full = responder({ full: true });
    full.r.request(req('alice', 'VERSION'));
    expect(full.r.stats).toEqual({ answered: 0, dropped: 1 });
    const { r, sent } = responder();
    r.request(req('alice', 'TIME'));
    r.request({ nick: 'x y', type: 'VERSION', message: 'VERSION' });
    r.request({ nick: 'alice', type: null as unknown as string, message: '' });
    expect(sent).toEqual([]);
    expect(r.stats).toEqual({ answered: 0, dropped: 0 });
  });

  it('cuts a long PING token and strips control bytes from it', () => {
    const { r, sent } = responder();
    r.request(req('bob', 'PING', `PING ${'x'.repeat(500)}\x02\x03`));
    expect(sent[0]).toBe(`NOTICE bob :\x01PING ${'x'.repeat(64)}\x01`);
  });
});

describe('createSenderLimiter', () => {
  it('remembers at most maxSenders, forgetting the least recently seen', () => {
    const l = createSenderLimiter({ perSender: { burst: 1, ratePerSec: 0.001 }, overall: { burst: 1000, ratePerSec: 1 }, maxSenders: 3, now: () => 0 });
    for (const s of ['a', 'b', 'c']) expect(l.take(s)).toBe(true);
    expect(l.take('a')).toBe(false); // a is now the most recent
    expect(l.take('d')).toBe(true); // forgets b
    expect(l.senders).toBe(3);
    expect(l.take('c')).toBe(false);
    expect(l.take('b')).toBe(true); // b was forgotten: a fresh bucket
  });

  it('a refusal by the overall bucket costs the sender nothing', () => {
    const l = createSenderLimiter({ perSender: { burst: 2, ratePerSec: 0.001 }, overall: { burst: 1, ratePerSec: 0.001 }, now: () => 0 });
    expect(l.take('a')).toBe(true);
    expect(l.take('b')).toBe(false);
    expect(l.take('b')).toBe(false);
  });
});
