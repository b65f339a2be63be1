/**
 * One connection to an XMPP server: @xmpp/client made safe to run for months against any server.
 * The client does the stream, TLS, SASL, resource binding and stream management; this module
 * puts the mouth's guards around it and reports what happens through hooks:
 *
 * - the server's bytes are bounded before the XML parser holds them (MAX_STANZA_BYTES without a
 *   complete element: tooLong), and decoded across chunk boundaries (the client decodes each chunk
 *   alone, which cuts a character split between two reads);
 * - every socket keeps an error listener of ours (the client stops listening once a socket closed,
 *   and a late ECONNRESET would end the process);
 * - 'online' is reported only once stream management is enabled (or failed) where the server
 *   offers it (see online below);
 * - the client's own reconnect is off (the network's loop reconnects, with backoff), and
 *   `start()` is not used (see open()).
 *
 * A connection is used once: a new one is made for each attempt (carrySession moves what stream
 * management needs to resume the session).
 */
import { StringDecoder } from 'node:string_decoder';
import { client as xmppClient, type Client } from '@xmpp/client';
import type { Element } from '@xmpp/xml';

/** Bytes the server may send without completing an element at the stream's top level. */
export const MAX_STANZA_BYTES = 1024 * 1024;
const SM_NS = 'urn:xmpp:sm:3';
/** How long 'online' waits for stream management to be enabled before it is reported anyway. */
const SM_WAIT_MS = 5_000;

export interface ConnectionHooks {
  /** Logged in afresh (a new session): rooms must be joined again. */
  online(): void;
  /** The session was resumed (XEP-0198): nothing was lost, rooms are still joined. */
  resumed(): void;
  /** A stanza the server never acknowledged before it lost the session. */
  failed(stanza: Element): void;
  stanza(stanza: Element): void;
  /** An element completed: the server is alive. */
  heard(): void;
  /** More than MAX_STANZA_BYTES without a complete element. */
  tooLong(): void;
  /** Malformed XML (the stream is over). */
  badXml(message: string): void;
  /** Any other error the client reports (a stream error, a refused login, a socket error). */
  error(err: Error & { condition?: string }): void;
  disconnected(reason?: unknown): void;
}

export interface ConnectionOptions {
  /** `xmpp://host:port` or `xmpps://host:port`. */
  service: string;
  domain: string;
  local: string;
  password: string;
  resource: string;
}

export function createConnection(o: ConnectionOptions, hooks: ConnectionHooks): Client {
  const x = xmppClient({ service: o.service, domain: o.domain, username: o.local, password: o.password, resource: o.resource, timeout: 10_000 });
  x.reconnect.stop();
  let pending = 0;
  let over = false;
  const decoder = new StringDecoder('utf8');
  x._onData = (data: Buffer) => {
    if (over) return;
    pending += data.length;
    if (pending > MAX_STANZA_BYTES) { over = true; hooks.tooLong(); return; }
    const text = decoder.write(data);
    if (!text || !x.parser) return;
    try {
      x.parser.write(text);
    } catch (err) {
      // The client stops listening to a parser after its first error; a second one in the same
      // chunk is thrown here. The stream is over either way.
      hooks.badXml((err as Error).message);
    }
  };
  const attach = x._attachSocket.bind(x);
  x._attachSocket = (socket) => {
    const quiet = (sock: { on?: (e: 'error', f: () => void) => unknown } | null | undefined) => { if (sock?.on) sock.on('error', () => undefined); };
    quiet(socket);
    quiet(socket.socket);
    // @xmpp's TLS wrapper makes its TLS socket in connect(), after it is attached.
    const wrapper = socket as { connect?: (...a: unknown[]) => unknown; socket?: unknown };
    if (typeof wrapper.connect === 'function' && 'secure' in socket) {
      const connect = wrapper.connect.bind(socket);
      wrapper.connect = (...a: unknown[]) => { const r = connect(...a); quiet(wrapper.socket as never); return r; };
    }
    attach(socket);
  };
  x.on('element', () => { pending = 0; hooks.heard(); });
  x.on('stanza', (s: Element) => hooks.stanza(s));
  // @xmpp/client 0.14 says 'online' before it asks to enable stream management; a stanza sent
  // then is answered before <enabled/>, counted by the client but not the server, and Prosody ends
  // the stream at the next ack ("acknowledged more stanzas than sent"). So when the server offers
  // it, 'online' waits until it is enabled (or failed).
  let smOffered = false;
  x.on('nonza', (el: Element) => {
    if (el.is('features', 'http://etherx.jabber.org/streams')) smOffered = !!el.getChild('sm', SM_NS);
  });
  x.on('online', () => {
    if (!smOffered) { hooks.online(); return; }
    let done = false;
    const go = () => { if (done) return; done = true; x.removeListener('nonza', settled); clearTimeout(t); hooks.online(); };
    const settled = (el: Element) => { if (el.is('enabled', SM_NS) || el.is('failed', SM_NS)) go(); };
    const t = setTimeout(go, SM_WAIT_MS);
    x.on('nonza', settled);
  });
  x.streamManagement.on('resumed', () => hooks.resumed());
  x.streamManagement.on('fail', (s: Element) => hooks.failed(s));
  x.on('disconnect', (e?: { reason?: unknown }) => hooks.disconnected(e?.reason));
  x.on('error', (err: Error & { condition?: string }) => {
    if (err.name === 'XMLError') hooks.badXml(err.message);
    else hooks.error(err);
  });
  return x;
}

/**
 * Opens the connection: not x.start(), which waits for 'online' with a promise that also rejects
 * on the client's next 'error' and leaves it unhandled when the stream fails to open (an unhandled
 * rejection ends the mouth). 'online' and 'disconnect' come as hooks anyway.
 */
export async function open(x: Client, service: string, domain: string): Promise<void> {
  await x.connect(service);
  await x.open({ domain, lang: 'en' });
}

/** Ends the connection at once (the socket destroyed: 'disconnect' follows); false if it had none. */
export function cut(x: Client): boolean {
  // A net.Socket, or @xmpp's TLS wrapper holding one in `.socket`.
  const socket = x.socket as unknown as { destroy?: () => void; socket?: { destroy(): void } } | null | undefined;
  if (!socket) return false;
  x.parser = null;
  socket.socket?.destroy();
  socket.destroy?.();
  return true;
}

/**
 * Moves what stream management needs to resume the session (its id, counts and the stanzas not
 * yet acknowledged) from a spent connection to the next, and silences the spent one. A fresh
 * client per connection because @xmpp/client leaves the negotiations of a connection that died
 * half-way listening on the client (for its timeout), and they take the next connection's
 * answers (a SASL exchange spoilt, a login that never ends).
 */
export function carrySession(from: Client, to: Client): void {
  const a = from.streamManagement;
  Object.assign(to.streamManagement, { id: a.id, inbound: a.inbound, outbound: a.outbound, outbound_q: a.outbound_q, max: (a as { max?: unknown }).max });
  a.outbound_q = [];
  from.removeAllListeners();
  a.removeAllListeners();
  from.on('error', () => undefined);
  cut(from);
}
