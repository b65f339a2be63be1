import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { createTokenBucket } from '../protocol/token-bucket.js';
import { OutboundRefused } from './outbound-error.js';
import { XmppOutbound, xmppText, type XmppAction } from './xmpp-outbound.js';

const sender = { via: 'ping', origin: 'ping' };
const L = (s: string) => Buffer.from(s, 'latin1');

function make(o: { queueMax?: number; maxBodyBytes?: number; burst?: number; now?: () => number } = {}) {
  const sent: XmppAction[] = [];
  let n = 0;
  const out = new XmppOutbound({
    bucket: createTokenBucket({ burst: o.burst ?? 100, ratePerSec: 100, now: o.now }),
    queueMax: o.queueMax ?? 100,
    maxBodyBytes: o.maxBodyBytes ?? 1000,
    resolve: (t) => {
      if (t.startsWith('#')) return { to: t.slice(1), type: 'groupchat' };
      if (t === 'alice') return { to: 'alice@x/phone', type: 'chat' };
      throw new OutboundRefused('InvalidLine', `no ${t}`);
    },
    joinable: (room) => { if (room === 'full@c') throw new OutboundRefused('InvalidLine', 'too many rooms'); },
    send: (a) => sent.push(a),
    newId: () => `id${++n}`,
    log: pino({ level: 'silent' }),
  });
  return { out, sent };
}

const codeOf = (f: () => void) => { try { f(); } catch (e) { return (e as OutboundRefused).code; } return 'none'; };

describe('xmpp outbound', () => {
  it('sends the lines of one message to one target as one message; ACTION as /me; JOIN and PART', () => {
    const { out, sent } = make();
    out.setOpen(true);
    out.submit(sender, [L('PRIVMSG #r@c :one'), L('NOTICE #r@c :two'), L('PRIVMSG alice :\x01ACTION waves\x01'), L('PRIVMSG alice :\x02bold\x02 \x0304red')], { reply: { id: 'q', to: 'r@c/al' }, msgid: 'mine', replaces: 'old' });
    out.submit(sender, [L('JOIN #a@c,#b@c k1'), L('PART #a@c')]);
    expect(sent).toEqual([
      { kind: 'message', msg: { to: 'r@c', type: 'groupchat', body: 'one\ntwo', id: 'mine', replyTo: { id: 'q', to: 'r@c/al' }, replaces: 'old' } },
      { kind: 'message', msg: { to: 'alice@x/phone', type: 'chat', body: '/me waves\nbold red', id: 'id1', replyTo: { id: 'q', to: 'r@c/al' } } },
      { kind: 'join', room: 'a@c', password: 'k1' },
      { kind: 'join', room: 'b@c' },
      { kind: 'part', room: 'a@c' },
    ]);
    expect(out.counters()).toMatchObject({ queued: 2, sent: 5, waiting: 0, refused: 0 });
  });

  it('refuses what it cannot send, whole, with a named code, and counts it', () => {
    const { out, sent } = make({ maxBodyBytes: 10 });
    out.setOpen(true);
    expect(codeOf(() => out.submit(sender, [L('PRIVMSG #r@c :ok'), L('QUIT :bye')]))).toBe('CommandNotAllowed');
    expect(codeOf(() => out.submit(sender, [L('WHOIS alice')]))).toBe('CommandNotAllowed');
    expect(codeOf(() => out.submit(sender, [L('PRIVMSG #r@c :a\rb')]))).toBe('InjectionAttempt');
    expect(codeOf(() => out.submit(sender, [L('PRIVMSG #r@c :\x01VERSION\x01')]))).toBe('CtcpNotAllowed');
    expect(codeOf(() => out.submit(sender, [L('PRIVMSG nobody :hi')]))).toBe('InvalidLine');
    expect(codeOf(() => out.submit(sender, [L('JOIN #not-a-room')]))).toBe('InvalidLine');
    expect(codeOf(() => out.submit(sender, [L('JOIN 0')]))).toBe('JoinZero');
    expect(codeOf(() => out.submit(sender, [L('JOIN #ok@c,#full@c')]))).toBe('InvalidLine');
    expect(codeOf(() => out.submit(sender, [L('PRIVMSG #r@c :12345'), L('PRIVMSG #r@c :67890')]))).toBe('LineTooLong');
    expect(codeOf(() => out.submit(sender, [L('PRIVMSG #r@c :x')], { msgid: 'm'.repeat(129) }))).toBe('InvalidLine');
    expect(sent).toEqual([]);
    expect(out.counters()).toMatchObject({ refused: 10, refused_CommandNotAllowed: 2, refused_InjectionAttempt: 1, refused_CtcpNotAllowed: 1, refused_InvalidLine: 4, refused_JoinZero: 1, refused_LineTooLong: 1 });
  });

  it('holds while down, bounded, and sends in order once up, paced by the bucket', async () => {
    // The bucket's clock is the test's: a loaded machine's pause between two lines must not refill it.
    let clock = 0;
    const { out, sent } = make({ queueMax: 4, burst: 1, now: () => clock });
    for (let i = 1; i <= 2; i++) out.submit(sender, [L(`PRIVMSG #r@c :m${i}`)]);
    expect(codeOf(() => out.submit(sender, [L('PRIVMSG #r@c :m3')]))).toBe('QueueFull');
    expect(out.counters().waiting).toBe(2);
    out.setOpen(true);
    expect(sent).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 30));
    expect(sent).toHaveLength(1);
    clock += 10;
    await new Promise((r) => setTimeout(r, 50));
    expect(sent.map((a) => a.kind === 'message' && a.msg.body)).toEqual(['m1', 'm2']);
    expect(out.close()).toBe(0);
  });

  it('makes text XML can carry', () => {
    expect(xmppText('a\x00b\x07c\td\ud800e\uffff')).toBe('a\ufffdb\ufffdc\td\ufffde\ufffd');
    expect(xmppText('\x0312,04colour\x03 \x1ditalic\x1d')).toBe('colour italic');
  });
});
