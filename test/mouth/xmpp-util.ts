// Shared bits of the XMPP mouth tests: the `xmpp` network entry for a hive config on a test Prosody,
// and waiting for the bot in a room from the raw client's side.
import type { Prosody } from '../helpers/prosody.js';
import { bodyOf, type XmppTestClient } from '../helpers/xmpp-client.js';
import type { Element } from '@xmpp/xml';

export const BOT = { user: 'hivebot', password: 'botpass' };

/** An `xmpp` network entry for the hive config pointing at `p`; `extra` overrides. */
export function xmppNetwork(p: Pick<Prosody, 'host' | 'port' | 'domain'>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'xmpp',
    jid: `${BOT.user}@${p.domain}`,
    password: BOT.password,
    host: p.host,
    port: p.port,
    tls: 'none',
    rooms: [],
    flood: { burst: 100, rate: 100 },
    reconnect: { min_delay: 100, max_delay: 1000 },
    ...extra,
  };
}

/** Waits until the client (in the room) sees `nick` come in. */
export function botInRoom(c: XmppTestClient, room: string, nick = 'hivebot', opts: { since?: number; timeout?: number } = {}): Promise<Element> {
  return c.waitFor((s) => s.is('presence') && s.attrs.from === `${room}/${nick}` && s.attrs.type === undefined, { since: opts.since ?? 0, timeout: opts.timeout ?? 15_000, what: `${nick} in ${room}` });
}

/** Waits for a message with this body from `from` (a room occupant's or a user's full JID, or a prefix of it). */
export function expectBody(c: XmppTestClient, from: string, body: string | RegExp, opts: { since?: number; timeout?: number } = {}): Promise<Element> {
  const ok = (t: string | undefined) => t !== undefined && (typeof body === 'string' ? t === body : body.test(t));
  return c.waitFor((s) => s.is('message') && (s.attrs.from ?? '').startsWith(from) && ok(bodyOf(s)), { since: opts.since ?? 0, timeout: opts.timeout ?? 10_000, what: `a message ${String(body)} from ${from}` });
}

/** Bodies of messages from `from` (prefix) since. */
export function bodiesFrom(c: XmppTestClient, from: string, since = 0): string[] {
  return c.stanzas.slice(since).filter((s) => s.is('message') && (s.attrs.from ?? '').startsWith(from)).map(bodyOf).filter((b): b is string => b !== undefined);
}
