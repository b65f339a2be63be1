/**
 * An XMPP network through @xmpp/client: multi-user chat rooms and direct chat, mapped to and from
 * IRC-shaped lines so that every plugin works on it unchanged (docs/protocol.md, "XMPP"). The
 * client does the stream, TLS, SASL, resource binding and stream management (XEP-0198), inside
 * the mouth's guards (mouth/xmpp-connection.ts); the network owns the connection life (its own
 * reconnect loop with backoff, a ping for a silent server, rejoining rooms, another room nick on a
 * conflict and taking it back), the mapping (xmpp-names.ts, xmpp-stanza.ts, xmpp-room.ts) and the
 * outbound path (xmpp-outbound.ts).
 *
 * The server is not trusted: the bytes of one stanza are bounded before the XML parser holds them
 * (past MAX_STANZA_BYTES the connection is dropped and counted), a stanza a handler here cannot
 * take is dropped and counted (`malformed`), malformed XML ends the stream (counted, reconnected
 * with backoff), and a message body longer than max_message_bytes is dropped and counted.
 *
 * Stream management: a short drop is resumed (rooms stay joined, unacknowledged stanzas are sent
 * again by the client, and nothing twice: the server's count says which it had); when the server
 * lost the session (a restart), the messages it never acknowledged are sent again once the rooms
 * are joined again, and counted (`resent`).
 */
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { xml, type Client } from '@xmpp/client';
import type { Element } from '@xmpp/xml';
import type { Logger } from 'pino';
import { backoffDelay } from '../protocol/backoff.js';
import { createLogLimiter } from '../protocol/log-limit.js';
import type { Meta } from '../protocol/metadata.js';
import { createTokenBucket } from '../protocol/token-bucket.js';
import type { XmppNetworkConfig } from './network-config.js';
import type { Network, NetworkSink } from './network.js';
import { OutboundRefused, showBytes } from './outbound-error.js';
import type { Sender } from './outbound.js';
import { foldNick, ircSafeNick, maskPart, MAX_CONTACTS, NickTable, roomOfChannel } from './xmpp-names.js';
import { XmppOutbound, type Resolved, type SubmitOptions, type XmppAction } from './xmpp-outbound.js';
import { XmppRoom, type Occupant } from './xmpp-room.js';
import { buildMessage, errorCondition, messageParts, mucStatus, NS, type MessageParts } from './xmpp-stanza.js';
import { forgetTrust, trustFor } from './tls-trust.js';
import { carrySession, createConnection, cut, MAX_STANZA_BYTES, open, type ConnectionHooks } from './xmpp-connection.js';

/** Bytes of one line handed to the plugins; a longer line of a message is cut into several. */
export const MAX_LINE_TEXT_BYTES = 4000;
/** Lines of one inbound message handed on; the rest are dropped (counted, logged). */
export const MAX_INBOUND_LINES = 64;
/** Inbound messages remembered for replies to them (hive.reply_to → the XMPP message). */
export const MAX_REFS = 10_000;
/** Direct-chat message ids remembered for corrections (all partners together). */
const MAX_CHAT_IDS = 10_000;
/** Rooms the bot is in or wants at most (the config's and those plugins joined). */
export const MAX_ROOMS = 200;
/** Stanzas sent and not acknowledged (stream management) at most: a server that never acknowledges would otherwise grow the client's queue without end. */
export const MAX_UNACKED = 500;
/** A line handed to the plugins: `:prefix COMMAND …` with one `!` and `@` at most in the prefix, no CR, LF or NUL anywhere. */
const SAFE_LINE = /^:(?:[^\s!@\0]+|[^\s!@\0]+![^\s!@\0]+@[^\s!@\0]+) [A-Z0-9]+(?: [^\r\n\0]*)?$/;
/** Nicks per 353 line, as IRC servers do. */
const NAMES_PER_LINE = 40;
/** How long the outbound queue waits for the rooms to be joined after a fresh login. */
const JOIN_WAIT_MS = 5_000;
/** How long a room we left may take to confirm it before it is forgotten anyway. */
const LEAVE_WAIT_MS = 10_000;

export interface XmppNetworkOptions {
  name: string;
  config: XmppNetworkConfig;
  sink: NetworkSink;
  log: Logger;
}

export interface XmppNetworkStatus {
  connected: boolean;
  online: boolean;
  /** The full JID the server bound ('' while not online). */
  jid: string;
  lastDisconnect: string;
}

/** What the mouth remembers of an inbound message so that a reply to it can name it (XEP-0461). */
interface Ref {
  msgid?: string;
  /** Who said it: the occupant's full JID in a room, the sender's JID in a direct chat. */
  from: string;
  /** The IRC nick the line gave them. */
  nick: string;
}

/** A direct-chat partner: where a message to their nick goes. */
interface Contact {
  to: string;
}

const splitJid = (jid: string): [string, string] => {
  const slash = jid.indexOf('/');
  return slash === -1 ? [jid.toLowerCase(), ''] : [jid.slice(0, slash).toLowerCase(), jid.slice(slash + 1)];
};

const bareOf = (jid: string | undefined): string | undefined => (jid ? splitJid(jid)[0] : undefined);

export class XmppNetwork implements Network {
  readonly name: string;
  private xmpp: Client | undefined;
  private online = false;
  private stopping = false;
  private attempt = 0;
  private lastError = '';
  private lastDisconnect = '';
  private down = true;
  /** This connection is being dropped by us (counted once). */
  private dropping = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private stableTimer: NodeJS.Timeout | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly outbound: XmppOutbound;
  private readonly rooms = new Map<string, XmppRoom>();
  /** Direct-chat partners; none gets a nick the bot has (its own, or its nick in a room). */
  private readonly contacts = new NickTable<Contact>(MAX_CONTACTS, (folded) => folded === foldNick(this.nick) || [...this.rooms.values()].some((r) => foldNick(r.ircNick) === folded));
  private readonly refs = new Map<string, Ref>();
  /** `who\0id` of the last direct-chat messages (who: the bare JID, or a room occupant's full JID): a correction there is taken only for an id the same sender sent. */
  private readonly chatIds = new Set<string>();
  /** Message stanzas the server never acknowledged before it lost our session: sent again after the next login. */
  private unacked: Element[] = [];
  /** When the server last completed an element (for ping_timeout). */
  private lastHeard = 0;
  private pingTimer: NodeJS.Timeout | undefined;
  private readonly logLimit = createLogLimiter({ max: 5, windowMs: 60_000 });
  private readonly local: string;
  private readonly domain: string;
  /**
   * connects: connection attempts; malformed: stanzas dropped and XML errors; hostileDrops:
   * connections dropped for the server's input; tooLong: inbound messages over max_message_bytes
   * or MAX_INBOUND_LINES; resent: messages sent again after the server lost the session; errors:
   * error stanzas the server sent back for what we sent; foreignCorrections: corrections naming a
   * message that is not the sender's own (passed on as plain lines); untrustedAccounts: real JIDs
   * a room service we do not trust claimed (not passed on); forgedTimes: <delay> stamps not from the
   * room's history or our server (ignored); unsafeLines: lines that would have carried CR, LF, NUL
   * or a broken prefix (dropped: a last check, nothing should reach it).
   */
  readonly counters = { connects: 0, malformed: 0, hostileDrops: 0, tooLong: 0, resent: 0, errors: 0, foreignCorrections: 0, untrustedAccounts: 0, forgedTimes: 0, unsafeLines: 0 };
  /** The message a submit answers, while it is being submitted: its speaker's nick resolves to them. */
  private answering: Ref | undefined;

  constructor(private readonly o: XmppNetworkOptions) {
    this.name = o.name;
    const c = o.config;
    [this.local = '', this.domain = ''] = c.jid.split('@') as [string, string];
    this.domain = this.domain.toLowerCase();
    this.outbound = new XmppOutbound({
      bucket: createTokenBucket({ burst: c.flood.burst, ratePerSec: c.flood.rate }),
      queueMax: c.queue_max,
      maxBodyBytes: c.max_message_bytes,
      resolve: (target) => this.resolve(target),
      joinable: (room) => this.joinable(room),
      send: (action) => this.act(action),
      newId: () => `hive-${randomBytes(9).toString('base64url')}`,
      log: o.log,
    });
    for (const r of c.rooms) this.rooms.set(r.jid, new XmppRoom(r.jid, r.nick ?? c.nick, r.password));
    // Always set for this host and port, so that what an earlier network (or an earlier config) asked
    // for it does not linger; with tls: none too, since a server may offer STARTTLS all the same.
    // Forgotten at stop (tls-trust.ts says whom it applies to).
    const tls = { ...(c.ca_file ? { ca: readFileSync(c.ca_file) } : {}), rejectUnauthorized: c.tls_verify };
    trustFor(this, c.host, c.port, tls);
    trustFor(this, this.domain, c.port, tls);
  }

  get nick(): string { return this.o.config.nick; }

  /** Throws OutboundRefused when `room` would be one room too many (checked at submit, and again when the JOIN is sent). */
  private joinable(room: string): void {
    const wanted = [...this.rooms.values()].filter((r) => r.wanted).length;
    if (!this.rooms.get(room)?.wanted && wanted >= MAX_ROOMS) throw new OutboundRefused('InvalidLine', `The bot is in ${wanted} rooms already, the most it joins (${MAX_ROOMS}); PART one first.`);
  }

  /**
   * Whether the service of `room` may tell who an occupant is (<item jid>, which becomes
   * hive.account and the prefix's user@host): the bot's own server and its subdomains, the
   * services listed in trusted_room_services, and any service for its own server's users
   * (conference.evil.org may vouch for x@evil.org, never for x@example.org).
   */
  private vouches(room: XmppRoom, realJid: string): boolean {
    const service = this.mucHost(room);
    const under = (host: string, domain: string) => host === domain || host.endsWith(`.${domain}`);
    if (under(service, this.domain) || this.o.config.trusted_room_services.includes(service)) return true;
    const domain = realJid.slice(realJid.indexOf('@') + 1);
    return domain !== '' && under(service, domain);
  }

  async start(): Promise<void> {
    this.connect();
  }

  submit(sender: Sender, lines: Buffer[], replyTo?: string, meta?: Record<string, unknown>): void {
    const value = (key: string): unknown => {
      const v = meta?.[key];
      return v !== null && typeof v === 'object' && 'value' in v ? (v as { value: unknown }).value : v;
    };
    const str = (key: string) => { const v = value(key); return typeof v === 'string' ? v : undefined; };
    const opts: SubmitOptions = {};
    const ref = replyTo ? this.refs.get(replyTo) : undefined;
    const replyId = str('hive.reply_msgid') ?? ref?.msgid;
    if (replyId) opts.reply = { id: replyId, ...(ref && (str('hive.reply_msgid') === undefined || str('hive.reply_msgid') === ref.msgid) ? { to: ref.from } : {}) };
    const msgid = str('hive.msgid');
    if (msgid !== undefined) opts.msgid = msgid;
    const replaces = str('hive.replaces');
    if (replaces !== undefined) opts.replaces = replaces;
    this.answering = ref;
    try {
      this.outbound.submit(sender, lines, opts);
    } finally {
      this.answering = undefined;
    }
  }

  outboundCounters(): Record<string, number> { return this.outbound.counters(); }

  /**
   * The configured rooms are now these (`hive reload`: name = the room's JID, or its channel;
   * key = its password): new ones are joined, those no longer listed left, without reconnecting.
   * Rooms a plugin joined with JOIN are not the config's and stay. While offline the list is kept
   * for the next login.
   */
  async setChannels(channels: { name: string; key?: string }[]): Promise<void> {
    const listed = new Map<string, string | undefined>();
    for (const ch of channels) {
      const jid = roomOfChannel(ch.name.startsWith('#') ? ch.name : `#${ch.name}`);
      if (jid) listed.set(jid, ch.key);
      else this.o.log.warn({ room: ch.name }, 'not a room JID; left out');
    }
    for (const room of [...this.rooms.values()]) {
      if (!room.configured || listed.has(room.jid) || !room.wanted) continue;
      room.wanted = false;
      this.leave(room);
    }
    for (const [jid, key] of listed) {
      let room = this.rooms.get(jid);
      if (!room) this.rooms.set(jid, (room = new XmppRoom(jid, this.o.config.nick, key)));
      room.configured = true;
      room.password = key;
      if (room.wanted && room.state !== 'out') continue;
      room.wanted = true;
      if (this.online) { room.reset(); this.join(room); }
    }
  }

  status(): XmppNetworkStatus {
    return { connected: !!this.xmpp?.socket, online: this.online, jid: this.online ? this.xmpp?.jid?.toString() ?? '' : '', lastDisconnect: this.lastDisconnect };
  }

  // ------------------------------------------------------------------ connection life

  private service(): string {
    const c = this.o.config;
    return `${c.tls === 'direct' ? 'xmpps' : 'xmpp'}://${c.host}:${c.port}`;
  }

  private makeClient(): Client {
    const c = this.o.config;
    const hooks: ConnectionHooks = {
      online: () => { if (this.xmpp === x && !this.down && !this.stopping) this.onOnline(); },
      resumed: () => { if (this.xmpp === x && !this.stopping) this.onResumed(); },
      failed: (st) => { if (st.is('message')) this.unacked.push(st); },
      stanza: (st) => { if (this.xmpp === x && !this.stopping) this.onStanza(st); },
      heard: () => { this.lastHeard = Date.now(); },
      tooLong: () => this.drop(`StanzaTooLong: the server sent more than ${MAX_STANZA_BYTES} bytes without completing a stanza`),
      badXml: (message) => this.badXml(message),
      error: (err) => {
        if (err.name === 'StreamError') this.lastError = `stream error: ${err.condition ?? err.message}`;
        else if (err.name === 'SASLError') this.lastError = `login refused: ${err.condition ?? err.message}`;
        else this.lastError ||= err.message;
        this.o.log.warn({ err: { name: err.name, message: err.message } }, 'XMPP error');
      },
      disconnected: (reason) => { if (this.xmpp === x) this.onDown(reason); },
    };
    const x: Client = createConnection({ service: this.service(), domain: this.domain, local: this.local, password: c.password, resource: c.resource }, hooks);
    return x;
  }

  private connect(): void {
    if (this.stopping) return;
    const c = this.o.config;
    // A fresh client for each connection, the session carried over (mouth/xmpp-connection.ts says why).
    const old = this.xmpp;
    const x = this.makeClient();
    if (old) carrySession(old, x);
    this.xmpp = x;
    this.counters.connects++;
    this.down = false;
    this.dropping = false;
    this.o.sink.event(this.name, 'connecting', { 'hive.nick': this.nick });
    this.o.log.info({ host: c.host, port: c.port, tls: c.tls, attempt: this.attempt }, 'connecting');
    this.connectTimer = setTimeout(() => {
      this.connectTimer = undefined;
      if (!this.online) this.drop(`not online within ${c.connect_timeout} ms`);
    }, c.connect_timeout);
    open(x, this.service(), this.domain).catch((err: Error & { condition?: string }) => {
      if (this.stopping || this.xmpp !== x) return;
      this.lastError = err.name === 'SASLError' ? `login refused: ${err.condition ?? err.message}` : this.lastError || err.message;
      this.o.log.warn({ err: { name: err.name, message: err.message } }, 'connection attempt failed');
      this.drop(this.lastError, false);
    });
  }

  /** Malformed XML ends the stream: counted once per connection, however many errors the rest of it makes. */
  private badXml(message: string): void {
    if (this.dropping) return;
    this.counters.malformed++;
    this.drop(`malformed XML from the server: ${message}`);
  }

  /** Ends the connection (the reconnect loop takes over); `hostile` counts it as the server's fault (once per connection). */
  private drop(reason: string, hostile = true): void {
    const x = this.xmpp;
    if (this.dropping) return;
    this.dropping = true;
    if (hostile) {
      this.counters.hostileDrops++;
      this.o.log.error({ reason }, 'dropping the connection');
    }
    this.lastError = reason;
    if (!x || !cut(x)) this.onDown(reason);
  }

  private onOnline(): void {
    const x = this.xmpp!;
    const c = this.o.config;
    if (c.tls !== 'none' && !x.isSecure()) {
      this.drop(`TLS required (tls: ${c.tls}) but the server offered no STARTTLS`, false);
      return;
    }
    this.up();
    this.o.log.info({ jid: x.jid?.toString() }, 'online');
    void x.send(xml('presence')).catch(() => undefined);
    const rooms = [...this.rooms.values()].filter((r) => r.wanted);
    for (const r of rooms) { r.reset(); this.join(r); }
    // The queue opens once the rooms are joined (or the wait is over), so that a message to a room
    // is not refused by it for being sent before we are in; then what the server lost is sent again.
    void Promise.all(rooms.map((r) => r.settled(JOIN_WAIT_MS))).then(() => {
      if (!this.online || this.xmpp !== x) return;
      // Through the queue: paced by the token bucket like everything else, counted as sent.
      const again = this.outbound.resend(this.unacked.splice(0));
      this.counters.resent += again;
      if (again) this.o.log.warn({ messages: again }, 'sending again what the server never acknowledged before it lost the session');
      this.outbound.setOpen(true);
    });
  }

  private onResumed(): void {
    this.up();
    this.o.log.info('stream resumed');
    this.outbound.setOpen(true);
  }

  private up(): void {
    if (this.connectTimer) { clearTimeout(this.connectTimer); this.connectTimer = undefined; }
    this.online = true;
    this.lastHeard = Date.now();
    this.schedulePing();
    this.lastError = '';
    if (this.stableTimer) clearTimeout(this.stableTimer);
    this.stableTimer = setTimeout(() => { this.stableTimer = undefined; this.attempt = 0; }, this.o.config.reconnect.stable_after);
    this.o.sink.event(this.name, 'registered', { 'hive.nick': this.nick });
  }

  private onDown(reason?: unknown): void {
    if (this.down) return;
    this.down = true;
    const wasOnline = this.online;
    this.online = false;
    this.outbound.setOpen(false);
    if (this.connectTimer) { clearTimeout(this.connectTimer); this.connectTimer = undefined; }
    if (this.stableTimer) { clearTimeout(this.stableTimer); this.stableTimer = undefined; }
    if (this.pingTimer) { clearTimeout(this.pingTimer); this.pingTimer = undefined; }
    const why = this.lastError || (reason instanceof Error ? reason.message : '') || 'connection closed';
    this.lastDisconnect = why;
    for (const r of this.rooms.values()) r.settle();
    this.o.sink.event(this.name, 'disconnected', { 'hive.nick': this.nick, 'hive.reason': why });
    if (this.stopping) return;
    const c = this.o.config;
    const delayMs = backoffDelay(this.attempt++, { baseMs: c.reconnect.min_delay, maxMs: c.reconnect.max_delay });
    this.o.log.warn({ wasOnline, reason: why, delayMs, attempt: this.attempt }, 'disconnected; reconnecting');
    this.lastError = '';
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => { this.reconnectTimer = undefined; this.connect(); }, delayMs);
  }

  /**
   * A server silent for half of ping_timeout is pinged (XEP-0199); no answer within the other half
   * drops the connection (a dead peer, or a path that swallows everything, never closes it).
   */
  private schedulePing(): void {
    const half = this.o.config.ping_timeout / 2;
    const x = this.xmpp;
    this.pingTimer = setTimeout(() => {
      this.pingTimer = undefined;
      if (!this.online || this.xmpp !== x || !x) return;
      if (Date.now() - this.lastHeard < half) { this.schedulePing(); return; }
      x.iqCaller.request(xml('iq', { type: 'get', to: this.domain }, xml('ping', { xmlns: 'urn:xmpp:ping' })), half)
        .then(() => { if (this.online && this.xmpp === x) this.schedulePing(); })
        .catch((err: Error) => {
          if (!this.online || this.xmpp !== x) return;
          // An error answer is an answer: the server is there.
          if (err.name !== 'TimeoutError') { this.schedulePing(); return; }
          this.drop(`ping timeout (no answer within ${this.o.config.ping_timeout} ms)`, false);
        });
    }, half);
  }

  private join(room: XmppRoom): void {
    if (!this.online || !this.xmpp) return;
    room.state = 'joining';
    // A rejoin asks only for the history after what was heard (the rest was handed on already; plugins would answer it again).
    room.seenBefore = room.lastSeen;
    // Rooms stamp history in whole seconds: ask from the start of the second last heard (a line said
    // later in that second would be left out), and drop what was heard by the stamp below.
    const since = room.lastSeen !== undefined ? xml('history', { since: new Date(Math.floor(room.lastSeen / 1000) * 1000).toISOString() }) : undefined;
    const x = xml('x', { xmlns: NS.muc }, room.password ? xml('password', {}, room.password) : undefined, since);
    void this.xmpp.send(xml('presence', { to: `${room.jid}/${room.nick}` }, x)).catch(() => undefined);
    this.o.log.info({ room: room.jid, nick: room.nick }, 'joining');
  }

  private later(fn: () => void, ms: number): NodeJS.Timeout {
    const t = setTimeout(() => { this.timers.delete(t); fn(); }, ms);
    this.timers.add(t);
    return t;
  }

  /** Joins again after rejoin_delay, and ever more slowly while the room keeps refusing (a wrong password does not mend itself). */
  private rejoinLater(room: XmppRoom): void {
    if (room.rejoinTimer) return;
    const c = this.o.config;
    const delayMs = room.refusals === 0 ? c.rejoin_delay : backoffDelay(room.refusals, { baseMs: c.rejoin_delay, maxMs: Math.max(c.rejoin_delay, c.reconnect.max_delay) });
    room.rejoinTimer = this.later(() => {
      room.rejoinTimer = undefined;
      if (room.wanted && room.state === 'out') { room.reset(); this.join(room); }
    }, delayMs);
  }

  async stop(_reason = 'Hive shutting down'): Promise<void> {
    this.stopping = true;
    for (const t of [this.reconnectTimer, this.connectTimer, this.stableTimer, this.pingTimer, ...this.timers]) if (t) clearTimeout(t);
    this.outbound.close();
    forgetTrust(this);
    if (this.unacked.length) {
      this.o.log.error({ messages: this.unacked.length }, 'messages the server never acknowledged, not sent again at shutdown');
      this.unacked = [];
    }
    const x = this.xmpp;
    if (!x) return;
    // A client still connecting is cut too: left alone it would log in later and fight the next session.
    if (this.online) await Promise.race([x.stop().catch(() => undefined), new Promise((r) => setTimeout(r, 1000))]);
    cut(x);
  }

  // ------------------------------------------------------------------ outbound

  private resolve(target: string): Resolved {
    const roomJid = roomOfChannel(target);
    if (roomJid !== undefined) {
      const room = this.rooms.get(roomJid);
      if (!room?.wanted) throw new OutboundRefused('InvalidLine', `The bot is not in the room ${showBytes(target)}; expected one of its rooms (${[...this.rooms.values()].filter((r) => r.wanted).map((r) => r.channel).join(', ') || 'none'}).`);
      return { to: room.jid, type: 'groupchat' };
    }
    // The speaker of the message answered is who they were there (a room's occupant, or the JID
    // that wrote), never a namesake elsewhere.
    const answering = this.answering;
    if (answering && foldNick(answering.nick) === foldNick(target)) return { to: answering.from, type: 'chat' };
    const contact = this.contacts.lookup(target);
    if (contact) return { to: contact.value.to, type: 'chat' };
    for (const room of this.rooms.values()) {
      const occ = room.occupants.lookup(target);
      if (occ) return { to: occ.value.full, type: 'chat' };
    }
    if (/^[^\s"&'/:<>@#]{1,256}@[^\s"&'/:<>@]{1,256}$/.test(target)) return { to: target, type: 'chat' };
    throw new OutboundRefused('InvalidLine', `No one is known as ${showBytes(target)} on this XMPP network; expected a room channel, the nick of someone who wrote to the bot or is in one of its rooms, or a JID.`);
  }

  private act(action: XmppAction): void {
    const x = this.xmpp;
    if (!x) return;
    if (action.kind === 'stanza') {
      void x.send(action.stanza).catch((err: Error) => this.o.log.warn({ err: err.message, to: action.stanza.attrs.to }, 'message not written'));
      return;
    }
    if (action.kind === 'message') {
      void x.send(buildMessage(action.msg)).catch((err: Error) => this.o.log.warn({ err: err.message, to: action.msg.to }, 'message not written'));
      if (x.streamManagement.outbound_q.length > MAX_UNACKED) this.drop(`AcksMissing: more than ${MAX_UNACKED} stanzas sent and not acknowledged`);
      return;
    }
    let room = this.rooms.get(action.room);
    if (action.kind === 'join') {
      if (!room) {
        try {
          this.joinable(action.room);
        } catch (err) {
          // Other JOINs queued before this one took the last places.
          this.outbound.count(err);
          this.o.log.warn({ room: action.room, rooms: MAX_ROOMS }, 'JOIN refused: the bot is in the most rooms it joins');
          return;
        }
        room = new XmppRoom(action.room, this.o.config.nick, action.password, false);
        this.rooms.set(action.room, room);
      }
      room.wanted = true;
      if (action.password) room.password = action.password;
      if (room.state === 'out') { room.reset(); this.join(room); }
      return;
    }
    if (!room) return;
    room.wanted = false;
    this.leave(room);
  }

  /** Leaves a room no longer wanted; it is forgotten once out (at once if not in it, else on the room's answer, or after LEAVE_WAIT_MS without one). */
  private leave(room: XmppRoom): void {
    if (room.rejoinTimer) { clearTimeout(room.rejoinTimer); this.timers.delete(room.rejoinTimer); room.rejoinTimer = undefined; }
    if (room.state === 'out' || !this.xmpp || !this.online) { this.forget(room); return; }
    void this.xmpp.send(xml('presence', { to: `${room.jid}/${room.nick}`, type: 'unavailable' })).catch(() => undefined);
    this.o.log.info({ room: room.jid }, 'leaving');
    this.later(() => { if (!room.wanted && room.state !== 'out') { room.state = 'out'; room.settle(); this.forget(room); } }, LEAVE_WAIT_MS);
  }

  /** Drops a room that is not wanted from the tables (its occupants, ids and nick). */
  private forget(room: XmppRoom): void {
    if (!room.wanted && this.rooms.get(room.jid) === room) this.rooms.delete(room.jid);
  }

  // ------------------------------------------------------------------ inbound

  private onStanza(s: Element): void {
    try {
      if (s.is('message')) this.onMessage(s);
      else if (s.is('presence')) this.onPresence(s);
    } catch (err) {
      this.malformed(s, err);
    }
  }

  private malformed(s: Element, err: unknown): void {
    this.counters.malformed++;
    const suppressed = this.logLimit.take('malformed');
    const why = err instanceof Error ? err.message : String(err);
    if (suppressed !== undefined) this.o.log.warn({ stanza: showBytes(String(s), 300), why, suppressed }, 'stanza from the server dropped');
  }

  private ourMask(nick: string): string {
    return `${nick}!${maskPart(this.local)}@${maskPart(this.domain)}`;
  }

  /** The IRC prefix of an occupant: their real JID's local@domain when known, else derived from the room. */
  private occupantMask(room: XmppRoom, nick: string, realJid?: string): string {
    return maskOf(nick, realJid, nick, room.jid);
  }

  private emit(line: string, meta: Meta, speaker?: string, ref?: Ref): void {
    // The last check: whatever a room or user chose, a line is one line with one prefix.
    if (!SAFE_LINE.test(line)) {
      this.counters.unsafeLines++;
      const suppressed = this.logLimit.take('unsafe');
      if (suppressed !== undefined) this.o.log.error({ line: showBytes(line, 200), suppressed }, 'line not handed on: it would carry CR, LF, NUL or a broken prefix');
      return;
    }
    const id = this.o.sink.line(this.name, Buffer.from(line, 'utf8'), meta, speaker);
    if (ref) {
      this.refs.set(id, ref);
      if (this.refs.size > MAX_REFS) this.refs.delete(this.refs.keys().next().value!);
    }
  }

  /** The lines of a message body within max_message_bytes and MAX_INBOUND_LINES (what is over is counted and logged); [] for none. */
  private bodyLines(body: string, prefix: string): string[] {
    const bytes = Buffer.byteLength(body, 'utf8');
    if (bytes > this.o.config.max_message_bytes) {
      this.refuseInbound(`a message of ${bytes} bytes (max_message_bytes ${this.o.config.max_message_bytes})`, prefix);
      return [];
    }
    const lines = body.split(/\r\n|\r|\n/).filter((l) => l.trim() !== '');
    if (lines.length > MAX_INBOUND_LINES) {
      this.refuseInbound(`${lines.length - MAX_INBOUND_LINES} lines past the first ${MAX_INBOUND_LINES} of a message`, prefix);
      return lines.slice(0, MAX_INBOUND_LINES);
    }
    return lines;
  }

  /** A message body as PRIVMSG lines, one per line of text (a long one cut), `/me` as ACTION. */
  private emitBody(prefix: string, target: string, body: string, meta: Meta, speaker: string, ref: Ref): void {
    const lines = this.bodyLines(body, prefix);
    if (lines.length === 0) return;
    const me = /^\/me(?: (.*))?$/s.exec(lines[0]!);
    if (me) lines[0] = `\x01ACTION ${me[1] ?? ''}\x01`;
    for (const line of lines) {
      for (const part of cutText(line, MAX_LINE_TEXT_BYTES)) this.emit(`:${prefix} PRIVMSG ${target} :${part}`, { ...meta }, speaker, ref);
    }
  }

  private refuseInbound(what: string, prefix: string): void {
    this.counters.tooLong++;
    const suppressed = this.logLimit.take('tooLong');
    if (suppressed !== undefined) this.o.log.warn({ from: prefix, suppressed }, `inbound message dropped: ${what}`);
  }

  private onMessage(s: Element): void {
    const from = s.attrs.from;
    if (!from) return;
    const [bare, resource] = splitJid(from);
    const room = this.rooms.get(bare);
    if (s.attrs.type === 'error') {
      this.counters.errors++;
      this.o.log.warn({ from, condition: errorCondition(s) }, 'the server refused a message');
      return;
    }
    // Headlines are notices of services (news, pubsub), nobody's talk; another resource of the bot's
    // own account is the bot itself.
    if (s.attrs.type === 'headline' || (!room && bare === `${this.local}@${this.domain}`.toLowerCase())) return;
    if (s.attrs.type === 'groupchat') {
      // From a room the bot is not in (left, leaving, or never joined): nobody's line here.
      if (room && room.wanted && room.state !== 'out') this.onGroupchat(room, resource, s);
      return;
    }
    // In a direct chat the ids both sides know are the sender's (origin-id, else id): replies and
    // corrections name those (XEP-0461, XEP-0308); our server's stanza-id is for our archive only.
    const parts = messageParts(s, '');
    if (!parts.body.trim()) return;
    // A private message from a room's occupant (room@service/nick), or a direct chat from a user.
    const occupant = room && resource ? room.occupants.lookup(room.occupants.nickOf(resource) ?? '')?.value : undefined;
    const key = room ? from : bare;
    const nickSource = room ? resource : bare.split('@')[0] ?? bare;
    const nick = this.contacts.nickFor(key, { to: from }, nickSource);
    const realJid = room ? occupant?.realJid : bare;
    const prefix = maskOf(nick, realJid, nickSource, bare);
    if (parts.replaces && !this.chatIds.has(`${key}\0${parts.replaces}`)) this.foreignCorrection(parts, from);
    if (parts.senderId && !parts.replaces) {
      this.chatIds.delete(`${key}\0${parts.senderId}`);
      this.chatIds.add(`${key}\0${parts.senderId}`);
      if (this.chatIds.size > MAX_CHAT_IDS) this.chatIds.delete(this.chatIds.values().next().value!);
    }
    // Only our own server keeps messages for us while offline: another <delay> is the sender's claim.
    if (parts.delayedAt !== undefined && parts.delayFrom !== this.domain) this.forgedTime(parts, from);
    const meta: Meta = { 'hive.nick': this.nick };
    this.richMeta(meta, parts);
    if (realJid) meta['hive.account'] = realJid;
    const speaker = prefix.slice(prefix.indexOf('!') + 1).toLowerCase();
    this.emitBody(prefix, this.nick, parts.body, meta, speaker, { from, nick, ...(parts.msgid ? { msgid: parts.msgid } : {}) });
  }

  /** A correction of a message the sender did not send (or one not remembered): passed on as a plain line, counted. */
  private foreignCorrection(parts: MessageParts, from: string): void {
    delete parts.replaces;
    this.counters.foreignCorrections++;
    const suppressed = this.logLimit.take('foreignCorrection');
    if (suppressed !== undefined) this.o.log.warn({ from, suppressed }, 'a correction of a message not the sender\'s own passed on as a plain line');
  }

  /** A <delay> nobody we trust stamped: ignored (hive.time is not set from it), counted. */
  private forgedTime(parts: MessageParts, from: string): void {
    delete parts.delayedAt;
    this.counters.forgedTimes++;
    const suppressed = this.logLimit.take('forgedTime');
    if (suppressed !== undefined) this.o.log.warn({ from, suppressed }, 'a <delay> not stamped by the room or our server ignored');
  }

  private richMeta(meta: Meta, parts: ReturnType<typeof messageParts>): void {
    if (parts.msgid) meta['hive.msgid'] = parts.msgid;
    if (parts.replyTo) meta['hive.reply_msgid'] = parts.replyTo.id;
    if (parts.replaces) meta['hive.replaces'] = parts.replaces;
    if (parts.links.length) meta['hive.links'] = parts.links;
    if (parts.delayedAt !== undefined) meta['hive.time'] = parts.delayedAt;
  }

  private onGroupchat(room: XmppRoom, resource: string, s: Element): void {
    const parts = messageParts(s, room.jid);
    const known = resource ? room.occupants.nickOf(resource) : undefined;
    const nick = known ?? (resource ? this.outsiderNick(room, resource) : '');
    const occ = known ? room.occupants.lookup(known)?.value : undefined;
    // The real JID only from the occupant's presence, which the room builds: an occupant can put
    // any <x muc#user><item jid> in a message, and the room passes it on (Prosody 0.12 does).
    const realJid = occ?.realJid;
    if (parts.subject !== undefined && !parts.body) {
      const meta: Meta = { 'hive.nick': room.ircNick };
      if (room.history) {
        // The subject ends the history; sent on join, it is the topic as IRC's 332 gives it.
        room.history = false;
        if (parts.subject) this.emit(`:${this.mucHost(room)} 332 ${room.ircNick} ${room.channel} :${oneLine(parts.subject)}`, meta);
      } else if (resource) {
        this.emit(`:${this.occupantMask(room, nick, realJid)} TOPIC ${room.channel} :${oneLine(parts.subject)}`, meta);
      }
      return;
    }
    if (!parts.body.trim()) return;
    // Our own messages come back from the room: the bot does not hear itself (as on IRC). The
    // room's id of each is kept, so that a reply to it is told by the id the bot sent it under.
    if (resource === room.nick) {
      const sid = s.getChildren('stanza-id', NS.sid).find((e) => e.attrs.by?.toLowerCase() === room.jid)?.attrs.id;
      if (sid && parts.senderId && sid.length <= 128) room.rememberOwn(sid, parts.senderId);
      return;
    }
    if (parts.replyTo) parts.replyTo.id = room.ownIdOf(parts.replyTo.id) ?? parts.replyTo.id;
    // History is what the room stamps (delay from the room) before the subject; any other <delay> is the sender's claim.
    const history = room.history && parts.delayedAt !== undefined && parts.delayFrom === room.jid;
    if (room.history && !history) room.history = false;
    if (parts.delayedAt !== undefined && !history) this.forgedTime(parts, s.attrs.from!);
    // Heard before a rejoin (the room sends its history again): not handed on twice.
    // Whole seconds again: a line of the second last heard comes through (marked hive.history, so no
    // command runs for it; the bridge knows it by its id) rather than one said then being lost.
    if (history && room.seenBefore !== undefined && parts.delayedAt! < Math.floor(room.seenBefore / 1000) * 1000) return;
    room.lastSeen = Math.max(room.lastSeen ?? 0, history ? parts.delayedAt! : Date.now());
    // A correction names the sender's own id of the message; hive.replaces is the room's (its hive.msgid).
    // One naming a message the sender did not send (or one not remembered) corrects nothing: a plain line.
    if (parts.replaces) {
      const own = resource ? room.msgidOf(resource, parts.replaces) : undefined;
      if (own) parts.replaces = own;
      else this.foreignCorrection(parts, s.attrs.from!);
    }
    if (resource && parts.senderId && parts.msgid && !parts.replaces) room.rememberId(resource, parts.senderId, parts.msgid);
    const meta: Meta = { 'hive.nick': room.ircNick };
    this.richMeta(meta, parts);
    if (history) meta['hive.history'] = true;
    if (realJid) meta['hive.account'] = realJid;
    if (!resource) {
      // The room itself speaks (a configuration change, an announcement): a notice from the server.
      const host = this.mucHost(room);
      for (const line of this.bodyLines(parts.body, host)) {
        for (const part of cutText(line, MAX_LINE_TEXT_BYTES)) this.emit(`:${host} NOTICE ${room.channel} :${part}`, { ...meta });
      }
      return;
    }
    const prefix = this.occupantMask(room, nick, realJid);
    this.emitBody(prefix, room.channel, parts.body, meta, prefix.slice(prefix.indexOf('!') + 1).toLowerCase(), { from: s.attrs.from!, nick, ...(parts.msgid ? { msgid: parts.msgid } : {}) });
  }

  /** The prefix of the occupant with this XMPP nick (an actor of a kick): their real JID when known. */
  private maskOfNick(room: XmppRoom, xmppNick: string): string {
    const nick = room.occupants.nickOf(xmppNick);
    const occ = nick !== undefined ? room.occupants.lookup(nick)?.value : undefined;
    return this.occupantMask(room, nick ?? this.outsiderNick(room, xmppNick), occ?.realJid);
  }

  /** The IRC nick of someone not (or no longer) in the room: never the bot's own there. */
  private outsiderNick(room: XmppRoom, xmppNick: string): string {
    const safe = ircSafeNick(xmppNick);
    return foldNick(safe) === foldNick(room.ircNick) ? `${safe.slice(0, 31)}2` : safe;
  }

  private mucHost(room: XmppRoom): string {
    return room.jid.slice(room.jid.indexOf('@') + 1);
  }

  private onPresence(s: Element): void {
    const from = s.attrs.from;
    if (!from) return;
    const [bare, resource] = splitJid(from);
    const room = this.rooms.get(bare);
    // From a room the bot is not in (left, or not joining): nobody's presence here.
    if (!room || !resource || room.state === 'out') return;
    const meta = (): Meta => ({ 'hive.nick': room.ircNick });
    const type = s.attrs.type;
    if (type === 'error') {
      if (resource !== room.nick) return;
      const condition = errorCondition(s);
      if (condition === 'conflict') {
        const next = room.nextNick();
        if (next) {
          this.o.log.warn({ room: room.jid, next }, 'nick in use in the room; trying the next one');
          this.join(room);
          return;
        }
      }
      this.o.log.error({ room: room.jid, nick: room.nick, condition, refusals: ++room.refusals }, 'could not join the room; trying again later');
      room.state = 'out';
      room.settle();
      this.rejoinLater(room);
      return;
    }
    const status = mucStatus(s);
    const item = status.item;
    // The room's word for who an occupant is, only from a service that may say it (vouches()).
    const claimed = bareOf(item?.attrs.jid);
    const realJid = claimed && claimed.length <= 3 * 1024 && this.vouches(room, claimed) ? claimed : undefined;
    if (claimed && !realJid) {
      this.counters.untrustedAccounts++;
      const suppressed = this.logLimit.take('untrustedAccount');
      if (suppressed !== undefined) this.o.log.warn({ room: room.jid, suppressed }, 'a real JID the room\'s service may not vouch for ignored (trusted_room_services)');
    }
    const self = status.self || (resource === room.nick && room.state !== 'in');
    // A room we are leaving: only its word that we are out counts.
    if (!self && !room.wanted) return;
    if (self) {
      if (type === 'unavailable') {
        const wasIn = room.state === 'in';
        if (status.codes.has('303') && item?.attrs.nick) {
          // Our nick in the room changed (we took our own nick back): as IRC says it.
          const was = room.ircNick;
          room.nick = item.attrs.nick;
          this.o.log.info({ room: room.jid, nick: room.nick }, 'room nick changed');
          if (room.state === 'in' && room.ircNick !== was) this.emit(`:${this.ourMask(was)} NICK :${room.ircNick}`, meta());
          return;
        }
        room.state = 'out';
        room.settle();
        if (status.codes.has('307') || status.codes.has('301')) {
          const actor = item?.getChild('actor')?.attrs.nick;
          const by = actor ? this.maskOfNick(room, actor) : this.mucHost(room);
          if (wasIn) this.emit(`:${by} KICK ${room.channel} ${room.ircNick} :${oneLine(item?.getChildText('reason') ?? '')}`, meta());
          this.o.log.warn({ room: room.jid, by: actor, delayMs: this.o.config.rejoin_delay }, 'kicked; rejoining later');
        } else if (wasIn) {
          this.emit(`:${this.ourMask(room.ircNick)} PART ${room.channel}`, meta());
        }
        room.occupants.clear();
        if (room.wanted) this.rejoinLater(room);
        else this.forget(room);
        return;
      }
      if (room.state !== 'in') {
        room.state = 'in';
        room.refusals = 0;
        room.history = true;
        // The room may give us another nick than we asked for (XEP-0045 7.2.9): kept raw for
        // stanzas, made IRC-safe for lines (ircNick).
        if (resource !== room.nick) room.nick = resource;
        // An occupant who got our nick as their IRC nick before we came (an XMPP nick that maps to it) gets another.
        const holder = room.occupants.lookup(room.ircNick);
        if (holder && holder.name !== room.nick) {
          room.occupants.forget(holder.name);
          room.occupants.nickFor(holder.name, holder.value);
        }
        this.o.log.info({ room: room.jid, nick: room.nick }, 'joined');
        this.emit(`:${this.ourMask(room.ircNick)} JOIN ${room.channel}`, meta());
        const names = room.occupants.entries().map((e) => e.nick);
        names.push(room.ircNick);
        for (let i = 0; i < names.length; i += NAMES_PER_LINE) {
          this.emit(`:${this.mucHost(room)} 353 ${room.ircNick} = ${room.channel} :${names.slice(i, i + NAMES_PER_LINE).join(' ')}`, meta());
        }
        this.emit(`:${this.mucHost(room)} 366 ${room.ircNick} ${room.channel} :End of /NAMES list.`, meta());
        room.settle();
      }
      return;
    }
    if (type === 'unavailable') {
      const nick = room.occupants.nickOf(resource);
      if (nick === undefined) return;
      const old = room.occupants.lookup(nick)!.value;
      const mask = this.occupantMask(room, nick, old.realJid);
      room.occupants.forget(resource);
      if (status.codes.has('303') && item?.attrs.nick) {
        const next = item.attrs.nick;
        const newNick = room.occupants.nickFor(next, { full: `${room.jid}/${next}`, ...(old.realJid ? { realJid: old.realJid } : {}) });
        room.renamed(next);
        if (room.state === 'in') this.emit(`:${mask} NICK :${newNick}`, meta());
      } else if (status.codes.has('307') || status.codes.has('301')) {
        const actor = item?.getChild('actor')?.attrs.nick;
        const by = actor ? this.maskOfNick(room, actor) : this.mucHost(room);
        if (room.state === 'in') this.emit(`:${by} KICK ${room.channel} ${nick} :${oneLine(item?.getChildText('reason') ?? '')}`, meta());
      } else if (room.state === 'in') {
        const why = s.getChildText('status');
        this.emit(`:${mask} PART ${room.channel}${why ? ` :${oneLine(why)}` : ''}`, meta());
      }
      // Whoever had our nick in the room is gone: take it back.
      if (resource === room.baseNick && room.nick !== room.baseNick && room.state === 'in' && this.xmpp) {
        this.o.log.info({ room: room.jid, nick: room.baseNick }, 'taking our room nick back');
        void this.xmpp.send(xml('presence', { to: `${room.jid}/${room.baseNick}` })).catch(() => undefined);
      }
      return;
    }
    if (type !== undefined) return;
    const occupant: Occupant = { full: from, ...(realJid ? { realJid } : {}) };
    if (room.takeRename(resource)) { room.occupants.nickFor(resource, occupant); return; }
    const known = room.occupants.nickOf(resource);
    const nick = room.occupants.nickFor(resource, occupant);
    if (known === undefined && room.state === 'in') this.emit(`:${this.occupantMask(room, nick, realJid)} JOIN ${room.channel}`, meta());
  }
}

/** `nick!local@domain` of a real JID, else `nick!user@place` with the place's JID (a room) as a host name. */
function maskOf(nick: string, realJid: string | undefined, user: string, place: string): string {
  if (realJid) {
    const [l = '', d = ''] = realJid.split('@');
    return `${nick}!${maskPart(l)}@${maskPart(d)}`;
  }
  return `${nick}!${maskPart(user)}@${maskPart(place.replace('@', '.'))}`;
}

/** Text for a single IRC parameter: line breaks become spaces, bounded. */
function oneLine(s: string): string {
  return cutText(s.replace(/[\r\n]+/g, ' '), MAX_LINE_TEXT_BYTES)[0] ?? '';
}

/** `text` in pieces of at most `max` UTF-8 bytes, cut between code points. */
export function cutText(text: string, max: number): string[] {
  if (Buffer.byteLength(text, 'utf8') <= max) return [text];
  const out: string[] = [];
  let cur = '';
  let bytes = 0;
  for (const ch of text) {
    const n = Buffer.byteLength(ch, 'utf8');
    if (bytes + n > max) { out.push(cur); cur = ''; bytes = 0; }
    cur += ch;
    bytes += n;
  }
  if (cur) out.push(cur);
  return out;
}
