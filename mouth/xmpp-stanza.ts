/**
 * The rich parts of an XMPP message stanza, read (inbound) and written (outbound): its stable id
 * (XEP-0359), what it replies to (XEP-0461, with its XEP-0428 fallback quote cut from the body),
 * what it corrects (XEP-0308), its links (XEP-0066) and when it was sent (XEP-0203 delay). Pure:
 * no connection, no state; every value read is bounded here.
 */
import { xml, type Element } from '@xmpp/xml';

export const NS = {
  sid: 'urn:xmpp:sid:0',
  reply: 'urn:xmpp:reply:0',
  fallback: 'urn:xmpp:fallback:0',
  correct: 'urn:xmpp:message-correct:0',
  oob: 'jabber:x:oob',
  delay: 'urn:xmpp:delay',
  muc: 'http://jabber.org/protocol/muc',
  mucUser: 'http://jabber.org/protocol/muc#user',
  stanzas: 'urn:ietf:params:xml:ns:xmpp-stanzas',
} as const;

/** hive.msgid and its kin are at most this long (metadata-schema.ts). */
export const MAX_ID = 128;
export const MAX_LINKS = 16;
export const MAX_URL = 2048;

export interface MessageParts {
  /** The body as the line carries it: the reply's fallback quote cut out. '' without a body. */
  body: string;
  /** XEP-0359 stanza-id given by `trustedBy` (the room), else origin-id, else the stanza's id. */
  msgid?: string;
  replyTo?: { id: string; to?: string };
  replaces?: string;
  /** The id the sender gave it (origin-id, else id): what a correction of it names (XEP-0308). */
  senderId?: string;
  links: string[];
  /** XEP-0203: when it was first sent (ms since the epoch); set on a room's history and on messages kept offline. Anyone can put one in: trust it only with delayFrom. */
  delayedAt?: number;
  /** Who stamped the delay (its `from`, lower case): the room for its history, our server for offline messages. */
  delayFrom?: string;
  /** Present when the stanza carries <subject/> ('' clears the subject). */
  subject?: string;
}

const idOk = (s: string | undefined): s is string => typeof s === 'string' && s.length > 0 && s.length <= MAX_ID;

/** The parts of a message stanza; `trustedBy` is who may stamp a stanza-id (the room's JID for groupchat; '' for none). */
export function messageParts(s: Element, trustedBy: string): MessageParts {
  const parts: MessageParts = { body: cutFallback(s, s.getChildText('body') ?? ''), links: [] };
  const sid = trustedBy ? s.getChildren('stanza-id', NS.sid).find((e) => e.attrs.by?.toLowerCase() === trustedBy) : undefined;
  const origin = s.getChild('origin-id', NS.sid)?.attrs.id;
  parts.msgid = [sid?.attrs.id, origin, s.attrs.id].find(idOk);
  parts.senderId = [origin, s.attrs.id].find(idOk);
  const reply = s.getChild('reply', NS.reply);
  if (reply && idOk(reply.attrs.id)) parts.replyTo = { id: reply.attrs.id, ...(reply.attrs.to && reply.attrs.to.length <= 3 * 1024 ? { to: reply.attrs.to } : {}) };
  const replace = s.getChild('replace', NS.correct)?.attrs.id;
  if (idOk(replace)) parts.replaces = replace;
  for (const x of s.getChildren('x', NS.oob)) {
    const url = x.getChildText('url')?.trim();
    if (url && url.length <= MAX_URL && parts.links.length < MAX_LINKS) parts.links.push(url);
  }
  const delay = s.getChild('delay', NS.delay);
  const stamp = delay?.attrs.stamp;
  if (stamp && stamp.length <= 64) {
    const t = Date.parse(stamp);
    if (!Number.isNaN(t)) {
      parts.delayedAt = t;
      const by = delay.attrs.from;
      if (by && by.length <= 3 * 1024) parts.delayFrom = by.toLowerCase();
    }
  }
  const subject = s.getChild('subject');
  if (subject) parts.subject = subject.text();
  return parts;
}

/**
 * The body without the XEP-0461 fallback quote (XEP-0428 `<fallback for="urn:xmpp:reply:0">`
 * with `<body start end/>`, offsets in code points): the quote is for clients that know no replies;
 * the line carries what was said, and hive.reply_msgid what it answers.
 */
export function cutFallback(s: Element, body: string): string {
  const ranges: [number, number][] = [];
  for (const f of s.getChildren('fallback', NS.fallback)) {
    if (f.attrs.for !== NS.reply) continue;
    for (const b of f.getChildren('body')) {
      const start = Number(b.attrs.start);
      const end = Number(b.attrs.end);
      if (Number.isInteger(start) && Number.isInteger(end) && start >= 0 && end > start) ranges.push([start, end]);
    }
  }
  if (ranges.length === 0) return body;
  const points = [...body];
  const keep = points.filter((_, i) => !ranges.some(([a, b]) => i >= a && i < b));
  return keep.join('').replace(/^\n+/, '');
}

/** The error condition of an error stanza (`conflict`, `not-authorized`, …), or 'unknown'. */
export function errorCondition(s: Element): string {
  const err = s.getChild('error');
  const cond = err?.children.find((c): c is Element => typeof c !== 'string' && c.attrs.xmlns === NS.stanzas && c.name !== 'text');
  return cond?.name ?? 'unknown';
}

/** Our own presence in a room (MUC status 110) and the other status codes it carries. */
export function mucStatus(s: Element): { self: boolean; codes: Set<string>; item?: Element } {
  const x = s.getChild('x', NS.mucUser);
  const codes = new Set((x?.getChildren('status') ?? []).map((st) => st.attrs.code ?? ''));
  return { self: codes.has('110'), codes, item: x?.getChild('item') };
}

export interface OutgoingMessage {
  to: string;
  type: 'chat' | 'groupchat';
  body: string;
  id: string;
  replyTo?: { id: string; to?: string };
  replaces?: string;
}

/** The stanza of one outgoing message; its id is also its origin-id (XEP-0359), so a correction can name it. */
export function buildMessage(m: OutgoingMessage): Element {
  const msg = xml('message', { to: m.to, type: m.type, id: m.id }, xml('body', {}, m.body), xml('origin-id', { xmlns: NS.sid, id: m.id }));
  if (m.replyTo) msg.append(xml('reply', { xmlns: NS.reply, id: m.replyTo.id, ...(m.replyTo.to ? { to: m.replyTo.to } : {}) }));
  if (m.replaces) msg.append(xml('replace', { xmlns: NS.correct, id: m.replaces }));
  return msg;
}
