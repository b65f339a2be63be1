// Shared bits of the XMPP mouth tests: the `xmpp` network entry for a hive config on a test Prosody,
// and waiting for the bot in a room from the raw client's side.
import type { Prosody } from '../helpers/prosody.js';
import { bodyOf, type XmppTestClient } from '../helpers/xmpp-client.js';
import net from 'node:net';
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

/** A TCP forwarder to 127.0.0.1:`target`: closed, it drops new connections; cut() ends the current ones (a network drop). */
export interface CutGate {
  port: number;
  open: boolean;
  /** Connections made through it so far. */
  connections: number;
  cut(): void;
  /** The current connections stay open but carry nothing more, either way (a path that swallows everything). */
  freeze(): void;
  close(): Promise<void>;
}

export async function startCutGate(target: number): Promise<CutGate> {
  const pairs = new Set<[net.Socket, net.Socket]>();
  /** Frozen connections: no longer passed through, still open until close(). */
  const frozen = new Set<net.Socket>();
  const server = net.createServer((down) => {
    down.on('error', () => down.destroy());
    if (!gate.open) { down.destroy(); return; }
    gate.connections++;
    const up = net.connect({ host: '127.0.0.1', port: target });
    const pair: [net.Socket, net.Socket] = [down, up];
    pairs.add(pair);
    up.on('error', () => up.destroy());
    up.on('close', () => { pairs.delete(pair); down.destroy(); });
    down.on('close', () => { pairs.delete(pair); up.destroy(); });
    down.pipe(up);
    up.pipe(down);
  });
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, '127.0.0.1', () => resolve()); });
  const gate: CutGate = {
    port: (server.address() as net.AddressInfo).port,
    open: true,
    connections: 0,
    cut() {
      for (const [down, up] of pairs) { down.destroy(); up.destroy(); }
      pairs.clear();
    },
    freeze() {
      for (const [down, up] of pairs) {
        down.unpipe(up);
        up.unpipe(down);
        // Read and drop, so nothing ever reaches the other side.
        down.on('data', () => undefined);
        up.on('data', () => undefined);
        frozen.add(down).add(up);
      }
      pairs.clear();
    },
    // server.close waits for every connection it accepted: frozen ones too.
    close: () => new Promise<void>((resolve) => { gate.cut(); for (const s of frozen) s.destroy(); server.close(() => resolve()); }),
  };
  return gate;
}
