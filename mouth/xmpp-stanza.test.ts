import { describe, expect, it } from 'vitest';
import { xml } from '@xmpp/xml';
import { buildMessage, cutFallback, errorCondition, messageParts, NS } from './xmpp-stanza.js';

describe('xmpp stanza parts', () => {
  it('reads the ids, reply, correction, links and delay, trusting only the room for stanza-id', () => {
    const s = xml('message', { from: 'r@c/alice', type: 'groupchat', id: 'own-1' },
      xml('body', {}, 'hi'),
      xml('stanza-id', { xmlns: NS.sid, by: 'evil@c', id: 'forged' }),
      xml('stanza-id', { xmlns: NS.sid, by: 'R@C', id: 'room-1' }),
      xml('origin-id', { xmlns: NS.sid, id: 'origin-1' }),
      xml('reply', { xmlns: NS.reply, id: 'room-0', to: 'r@c/bob' }),
      xml('replace', { xmlns: NS.correct, id: 'own-0' }),
      xml('x', { xmlns: NS.oob }, xml('url', {}, ' https://x.org/a.png ')),
      xml('x', { xmlns: NS.oob }, xml('url', {}, 'h'.repeat(3000))),
      xml('delay', { xmlns: NS.delay, stamp: '2026-01-02T03:04:05Z' }));
    expect(messageParts(s, 'r@c')).toEqual({
      body: 'hi', msgid: 'room-1', senderId: 'origin-1', replyTo: { id: 'room-0', to: 'r@c/bob' }, replaces: 'own-0',
      links: ['https://x.org/a.png'], delayedAt: Date.UTC(2026, 0, 2, 3, 4, 5),
    });
    // No trusted stamper: the sender's own ids.
    expect(messageParts(s, '').msgid).toBe('origin-1');
    expect(messageParts(xml('message', { id: 'only' }, xml('body', {}, 'x')), '').msgid).toBe('only');
    // Ids past 128 characters are not ids.
    expect(messageParts(xml('message', { id: 'i'.repeat(129) }, xml('body', {}, 'x'), xml('replace', { xmlns: NS.correct, id: 'j'.repeat(200) })), '')).toEqual({ body: 'x', links: [] });
    expect(messageParts(xml('message', {}, xml('subject', {}, 'topic')), '').subject).toBe('topic');
  });

  it('tells who stamped a delay, so that only the room or our server is believed', () => {
    const at = (attrs: Record<string, string>) => messageParts(xml('message', {}, xml('body', {}, 'x'), xml('delay', { xmlns: NS.delay, ...attrs })), '');
    expect(at({ stamp: '2026-01-02T03:04:05Z', from: 'R@C' })).toMatchObject({ delayedAt: Date.UTC(2026, 0, 2, 3, 4, 5), delayFrom: 'r@c' });
    expect(at({ stamp: '2026-01-02T03:04:05Z' }).delayFrom).toBeUndefined();
    // A stamp that is no time, or absurdly long, is no delay at all.
    expect(at({ stamp: 'yesterday', from: 'r@c' })).toEqual({ body: 'x', links: [] });
    expect(at({ stamp: `2026-01-02T03:04:05Z${' '.repeat(100)}`, from: 'r@c' })).toEqual({ body: 'x', links: [] });
  });

  it('cuts the reply fallback quote by code points', () => {
    const quote = '> 👩 wrote:\n> hi\n';
    const s = xml('message', {}, xml('body', {}, `${quote}answer`), xml('fallback', { xmlns: NS.fallback, for: NS.reply }, xml('body', { start: '0', end: String([...quote].length) })));
    expect(cutFallback(s, `${quote}answer`)).toBe('answer');
    // A fallback for something else, or nonsense offsets, cut nothing.
    const other = xml('message', {}, xml('fallback', { xmlns: NS.fallback, for: 'urn:other' }, xml('body', { start: '0', end: '3' })));
    expect(cutFallback(other, 'abcdef')).toBe('abcdef');
    const bad = xml('message', {}, xml('fallback', { xmlns: NS.fallback, for: NS.reply }, xml('body', { start: '5', end: '2' })));
    expect(cutFallback(bad, 'abcdef')).toBe('abcdef');
  });

  it('writes a message with origin-id, reply and replace; reads error conditions', () => {
    const m = buildMessage({ to: 'r@c', type: 'groupchat', body: 'a\nb', id: 'm1', replyTo: { id: 'x', to: 'r@c/al' }, replaces: 'm0' });
    expect(m.toString()).toBe(`<message to="r@c" type="groupchat" id="m1"><body>a\nb</body><origin-id xmlns="${NS.sid}" id="m1"/><reply xmlns="${NS.reply}" id="x" to="r@c/al"/><replace xmlns="${NS.correct}" id="m0"/></message>`);
    expect(buildMessage({ to: 'a@b', type: 'chat', body: '<&>', id: 'i' }).toString()).toContain('<body>&lt;&amp;&gt;</body>');
    expect(errorCondition(xml('presence', { type: 'error' }, xml('error', { type: 'cancel' }, xml('conflict', { xmlns: NS.stanzas }))))).toBe('conflict');
    expect(errorCondition(xml('presence', { type: 'error' }))).toBe('unknown');
  });
});
