// The tests' own XMPP client, on @xmpp/client: logs in to a test Prosody, joins rooms, sends, and
// keeps every stanza it receives so a test sees the wire (and waits for what it expects).
import { client as xmppClient, xml, type Client } from '@xmpp/client';
import type { Element } from '@xmpp/xml';
import type { Prosody } from './prosody.js';
import { waitFor } from './wait.js';

export { xml };

export interface XmppTestClient {
  jid: string;
  xmpp: Client;
  /** Every stanza received, in order. */
  stanzas: Element[];
  /** Index for `since`: stanzas after this one are new. */
  mark(): number;
  waitFor(pred: (s: Element) => boolean, opts?: { since?: number; timeout?: number; what?: string }): Promise<Element>;
  /** Joins a room (`room@conference.localhost`) as `nick`; resolves on our own presence (status 110). */
  join(room: string, nick: string, opts?: { password?: string; history?: number }): Promise<Element>;
  leave(room: string, nick: string): Promise<void>;
  /** Sends a groupchat message; returns its id. Extra children (reply, replace, oob …) as given. */
  groupchat(room: string, body: string, children?: Element[], id?: string): Promise<string>;
  /** Sends a chat message to a full or bare JID; returns its id. */
  chat(to: string, body: string, children?: Element[], id?: string): Promise<string>;
  send(el: Element): Promise<void>;
  close(): Promise<void>;
}

let seq = 0;

export async function connectXmpp(server: Pick<Prosody, 'host' | 'port' | 'domain'>, user: string, password: string, resource = 'test'): Promise<XmppTestClient> {
  const xmpp = xmppClient({ service: `xmpp://${server.host}:${server.port}`, domain: server.domain, username: user, password, resource });
  xmpp.reconnect.stop();
  const stanzas: Element[] = [];
  xmpp.on('stanza', (s: Element) => { stanzas.push(s); });
  xmpp.on('error', () => { /* seen as a failed start or a closed stream */ });
  await xmpp.start();
  // @xmpp/client says 'online' before stream management is enabled; a stanza sent before that is
  // miscounted and Prosody ends the stream (mouth/xmpp-network.ts says more). Wait for it.
  await waitFor(() => xmpp.streamManagement.enabled, { timeout: 5000, what: 'stream management enabled' }).catch(() => undefined);
  // Available presence: without it the server keeps messages to the bare JID from us.
  await xmpp.send(xml('presence'));
  const c: XmppTestClient = {
    jid: xmpp.jid!.toString(),
    xmpp,
    stanzas,
    mark: () => stanzas.length,
    waitFor: (pred, { since = 0, timeout = 10_000, what } = {}) =>
      waitFor(() => stanzas.slice(since).find(pred), { timeout, what: () => `${what ?? 'a stanza'}; got:\n${stanzas.slice(since).slice(-15).map(String).join('\n')}` }),
    async join(room, nick, opts = {}) {
      const since = stanzas.length;
      const x = xml('x', { xmlns: 'http://jabber.org/protocol/muc' }, ...(opts.password ? [xml('password', {}, opts.password)] : []), xml('history', { maxstanzas: String(opts.history ?? 0) }));
      await xmpp.send(xml('presence', { to: `${room}/${nick}` }, x));
      return c.waitFor((s) => s.is('presence') && s.attrs.from === `${room}/${nick}` && (selfPresence(s) || s.attrs.type === 'error'), { since, what: `own presence in ${room}` });
    },
    async leave(room, nick) {
      await xmpp.send(xml('presence', { to: `${room}/${nick}`, type: 'unavailable' }));
    },
    async groupchat(room, body, children = [], id = `t${++seq}`) {
      await xmpp.send(xml('message', { to: room, type: 'groupchat', id }, xml('body', {}, body), ...children));
      return id;
    },
    async chat(to, body, children = [], id = `t${++seq}`) {
      await xmpp.send(xml('message', { to, type: 'chat', id }, xml('body', {}, body), ...children));
      return id;
    },
    send: (el) => xmpp.send(el),
    async close() {
      await Promise.race([xmpp.stop().catch(() => {}), new Promise((r) => setTimeout(r, 2000))]);
    },
  };
  return c;
}

/** Our own presence in a room (MUC status 110). */
export function selfPresence(s: Element): boolean {
  const x = s.getChild('x', 'http://jabber.org/protocol/muc#user');
  return !!x?.getChildren('status').some((st) => st.attrs.code === '110');
}

/** Body text of a message stanza, or undefined. */
export function bodyOf(s: Element): string | undefined {
  return s.is('message') ? s.getChildText('body') ?? undefined : undefined;
}

/** Messages of `type` from `from` (exact, e.g. `room@conference.localhost/hivebot`) received since. */
export function messagesFrom(c: XmppTestClient, from: string, since = 0): Element[] {
  return c.stanzas.slice(since).filter((s) => s.is('message') && s.attrs.from === from && s.getChild('body') !== undefined);
}
