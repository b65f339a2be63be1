/**
 * An IRC network through irc-framework. irc-framework does parsing, registration, CAP and SASL;
 * the mouth owns the connection life (its own reconnect loop with backoff and jitter, rejoin,
 * alternate nicks and regaining the wanted one, rejoin after a kick) and the outbound path,
 * because irc-framework has no send queue, drops writes while disconnected and gives up
 * reconnecting. Inbound lines are taken from the socket as bytes (mouth/irc-transport.ts), so a
 * line that is not valid UTF-8 reaches the plugins intact.
 *
 * The server is not trusted: a line that irc-framework or a handler here cannot take is dropped,
 * counted (`malformed`) and logged (rate-limited), and the connection goes on; a line longer than
 * LIMITS.maxLineBytes, and what mouth/server-guard.ts watches (a flood of malformed lines,
 * irc-framework's state growing, a server that does not read), drop the connection with a named
 * reason, and the reconnect backoff starts over only after `reconnect.stable_after`. SASL after
 * registration is mouth/sasl-login.ts.
 */
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import irc, { type Client as IrcClient } from 'irc-framework';
import type { Logger } from 'pino';
import type { IrcNetworkConfig } from './network-config.js';
import { backoffDelay } from '../protocol/backoff.js';
import { parseLine } from '../protocol/irc-line.js';
import { LIMITS } from '../protocol/limits.js';
import { createLogLimiter } from '../protocol/log-limit.js';
import type { Meta } from '../protocol/metadata.js';
import { createAllowList } from './allow-list.js';
import { relayPrefixLength } from './line-split.js';
import { boundedTransport } from './irc-transport.js';
import { capProblem, shapeProblem } from './server-line-shape.js';
import { ServerGuard } from './server-guard.js';
import { SaslLogin } from './sasl-login.js';
import type { Network, NetworkSink } from './network.js';
import type { CtcpRequest } from './ctcp.js';
import { Outbound, speakerOf, type Sender } from './outbound.js';
import { showBytes } from './outbound-error.js';
import { forgetTrust, trustFor } from './tls-trust.js';
import { createTokenBucket } from '../protocol/token-bucket.js';

const CRLF = Buffer.from('\r\n');

/** Per network, what `hive tree` and the Details property show. */
export interface IrcNetworkStatus {
  connected: boolean;
  registered: boolean;
  /** The services account the bot is logged in to; '' when not identified. */
  account: string;
  /** Why the last connection ended ('' before the first ended). */
  lastDisconnect: string;
}

/** Servers prefix a username with '~' when no ident answered; count that byte too. */
function identOf(username: string | undefined): string | undefined {
  if (!username) return undefined;
  return username.startsWith('~') ? username : `~${username}`;
}

export interface IrcNetworkOptions {
  name: string;
  config: IrcNetworkConfig;
  sink: NetworkSink;
  log: Logger;
  /** Flood control off (benchmarks): `rate: Infinity`. */
}

interface KickEvent { kicked: string; channel: string; nick: string; message: string }

export class IrcNetwork implements Network {
  readonly name: string;
  private client: IrcClient | undefined;
  private socket: Socket | undefined;
  private registered = false;
  private stopping = false;
  private attempt = 0;
  private nickIndex = 0;
  private lastError = '';
  private reconnectTimer: NodeJS.Timeout | undefined;
  private regainTimer: NodeJS.Timeout | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly outbound: Outbound;
  /** malformed: lines dropped; connects: connection attempts; hostileDrops: connections the mouth dropped for the server's input. */
  readonly counters = { malformed: 0, connects: 0, hostileDrops: 0 };
  private lastDisconnect = '';
  private stableTimer: NodeJS.Timeout | undefined;
  private transport: { stopReading(): void; socket: Socket | null } | undefined;
  private readonly guard = new ServerGuard();
  private readonly sasl: SaslLogin;
  private readonly logLimit = createLogLimiter({ max: 5, windowMs: 60_000 });
  /** The channels to be in: the config's, then what setChannels made of them (hive reload). */
  private channels: { name: string; key?: string }[];
  /** The listed channels the bot is in now (lowercase), as the server said: its own JOIN, less its PART and KICK (bounded by the list). */
  private readonly joined = new Set<string>();

  constructor(private readonly o: IrcNetworkOptions) {
    this.name = o.name;
    const c = o.config;
    this.channels = [...c.channels];
    this.outbound = new Outbound({
      allowList: createAllowList(c.allow_commands),
      bucket: createTokenBucket({ burst: c.flood.burst, ratePerSec: c.flood.rate }),
      queueMax: c.queue_max,
      prefixLength: () => relayPrefixLength(this.nick, identOf(this.client?.user.username), this.client?.user.host || undefined),
      write: (line) => this.write(line),
      log: o.log,
    });
    if (c.ca_file) trustFor(this, c.host, c.port, { ca: readFileSync(c.ca_file) });
    this.sasl = new SaslLogin({
      config: c,
      log: o.log,
      registered: () => this.registered,
      nick: () => this.nick,
      failedBeforeRegistering: (reason) => { this.lastError = reason; },
    });
  }

  /** Our own record of the nick: irc-framework updates its own only after our handlers run. */
  private currentNick: string | undefined;

  get nick(): string { return this.currentNick ?? this.o.config.nick; }

  private nickCandidates(): string[] {
    const c = this.o.config;
    return [c.nick, ...c.alt_nicks, `${c.nick}_`, `${c.nick}__`, `${c.nick}${Math.floor(Math.random() * 1000)}`];
  }

  async start(): Promise<void> {
    this.connect();
  }

  submit(sender: Sender, lines: Buffer[]): void {
    this.outbound.submit(sender, lines);
  }

  outboundCounters(): Record<string, number> { return this.outbound.counters(); }

  /**
   * The channels to be in from now on (hive reload): JOIN for each listed one the bot is not in
   * (new, or one it could not join or was kicked from and not let back: a key edited is the usual
   * fix) or whose key changed, PART for the ones no longer listed, nothing for the others (IRC
   * channel names compare without case). Not connected: kept for the next registration.
   */
  async setChannels(channels: { name: string; key?: string }[]): Promise<void> {
    const key = (n: string) => n.toLowerCase();
    const before = new Map(this.channels.map((ch) => [key(ch.name), ch.key]));
    const after = new Set(channels.map((ch) => key(ch.name)));
    const part = this.channels.filter((ch) => !after.has(key(ch.name)));
    const join = channels.filter((ch) => !before.has(key(ch.name)) || !this.joined.has(key(ch.name)) || before.get(key(ch.name)) !== ch.key);
    this.channels = channels.map((ch) => ({ ...ch }));
    const client = this.client;
    if (!client || !this.registered) return;
    // irc-framework has part(); types/irc-framework.d.ts does not declare it.
    const parting = client as unknown as { part(channel: string, message?: string): void };
    for (const ch of part) parting.part(ch.name, 'Hive: channel removed from the config');
    for (const ch of join) client.join(ch.name, ch.key);
    if (part.length || join.length) this.o.log.info({ joined: join.map((c) => c.name), parted: part.map((c) => c.name) }, 'channels changed');
  }

  private connect(): void {
    const c = this.o.config;
    const log = this.o.log;
    this.nickIndex = 0;
    this.counters.connects++;
    this.guard.reset();
    const adopt = (t: InstanceType<typeof Transport>) => { this.transport = t; };
    const Transport = boundedTransport({
      line: (bytes, deliver) => this.onLine(bytes, deliver),
      failed: (bytes, err) => this.malformed(bytes, err),
      overflow: (held) => {
        this.counters.hostileDrops++;
        this.lastError = `LineTooLong: the server sent more than ${LIMITS.maxLineBytes} bytes without a line end`;
        this.o.log.error({ held, limit: LIMITS.maxLineBytes }, 'line from the server too long; dropping the connection');
      },
    }, LIMITS.maxLineBytes);
    // irc-framework's connect() replaces the constructor's options, so they are all given there.
    const opts: Record<string, unknown> = {
      host: c.host,
      port: c.port,
      tls: c.tls,
      rejectUnauthorized: c.tls_verify,
      nick: c.nick,
      username: c.username ?? c.nick,
      gecos: c.realname ?? 'Hive bot',
      password: c.password,
      auto_reconnect: false,
      version: null,
      // A silent connection is pinged at half the timeout (at most every 30 s) and dropped at the timeout.
      ping_interval: Math.min(30, c.ping_timeout / 2000),
      ping_timeout: c.ping_timeout / 1000,
      enable_echomessage: false,
      // Registers itself as this network's transport, so the network can stop it reading.
      transport: class extends Transport {
        constructor(options: Record<string, unknown>) { super(options); adopt(this); }
      },
    };
    const client = new irc.Client(opts);
    this.client = client;
    this.sasl.connecting(client);
    this.o.sink.event(this.name, 'connecting', { 'hive.nick': c.nick });
    log.info({ host: c.host, port: c.port, tls: c.tls, attempt: this.attempt }, 'connecting');

    client.connection.on('socket connected', () => {
      this.socket = this.transport?.socket ?? undefined;
    });
    client.on('registered', (e: { nick?: unknown }) => {
      this.registered = true;
      if (typeof e.nick === 'string' && e.nick) this.currentNick = e.nick;
      // A failure before registering (SASL, say) is not why a later connection ends.
      this.lastError = '';
      // The backoff starts over only once this connection proved stable, not at every registration.
      if (this.stableTimer) clearTimeout(this.stableTimer);
      this.stableTimer = setTimeout(() => { this.stableTimer = undefined; this.attempt = 0; }, c.reconnect.stable_after);
      log.info({ nick: this.nick, account: this.sasl.account || null }, 'registered');
      this.sasl.scheduleRetry();
      this.o.sink.event(this.name, 'registered', { 'hive.nick': this.nick });
      for (const ch of this.channels) client.join(ch.name, ch.key);
      this.outbound.setOpen(true);
      this.scheduleRegain();
    });
    client.on('nick in use', () => {
      if (this.registered) return;
      const next = this.nickCandidates()[++this.nickIndex];
      if (!next) return;
      log.warn({ next }, 'nick in use; trying the next one');
      client.changeNick(next);
    });
    client.on('nick', (e: { nick?: unknown; new_nick?: unknown }) => {
      if (typeof e.nick !== 'string' || typeof e.new_nick !== 'string' || !e.new_nick) return;
      if (this.currentNick && e.nick.toLowerCase() === this.currentNick.toLowerCase() && e.nick !== e.new_nick) {
        this.currentNick = e.new_nick;
        log.info({ nick: e.new_nick }, 'nick changed');
        this.o.sink.event(this.name, 'nick', { 'hive.nick': e.new_nick });
        this.scheduleRegain();
      }
    });
    // Which channels the bot is in (setChannels joins the listed ones it is not in).
    const mine = (e: { nick?: unknown; channel?: unknown }): string | undefined =>
      typeof e.nick === 'string' && typeof e.channel === 'string' && e.channel && this.client === client && e.nick.toLowerCase() === this.nick.toLowerCase() ? e.channel.toLowerCase() : undefined;
    client.on('join', (e: { nick?: unknown; channel?: unknown }) => { const ch = mine(e); if (ch && this.channels.some((x) => x.name.toLowerCase() === ch)) this.joined.add(ch); });
    client.on('part', (e: { nick?: unknown; channel?: unknown }) => { const ch = mine(e); if (ch) this.joined.delete(ch); });
    client.on('kick', (e: Partial<KickEvent>) => {
      const { kicked, channel } = e;
      if (typeof kicked !== 'string' || typeof channel !== 'string' || !channel) return;
      if (kicked.toLowerCase() !== this.nick.toLowerCase()) return;
      if (this.client === client) this.joined.delete(channel.toLowerCase());
      const ch = this.channels.find((x) => x.name.toLowerCase() === channel.toLowerCase());
      // A channel taken off the list (hive reload) is not rejoined.
      if (!ch) { log.warn({ channel, by: e.nick }, 'kicked from a channel no longer configured; not rejoining'); return; }
      log.warn({ channel, by: e.nick, delayMs: c.rejoin_delay }, 'kicked; rejoining later');
      this.later(() => {
        const still = this.channels.find((x) => x.name.toLowerCase() === channel.toLowerCase());
        if (still && this.registered && this.client === client) client.join(channel, still.key);
      }, c.rejoin_delay);
    });
    // Answered within per-requester and overall limits, as a small source of its own (mouth/ctcp.ts).
    client.on('ctcp request', (e: CtcpRequest) => this.outbound.ctcp.request(e));
    client.on('irc error', (e: { error: string; reason?: string; channel?: string; nick?: string }) => {
      // The server's ERROR line (e.g. a refused PASS) says why it is about to close: that is the disconnect reason.
      if (e.error === 'irc' && e.reason) this.lastError = e.reason;
      else if (e.error === 'password_mismatch') this.lastError = 'server password refused';
      log.warn({ error: e.error, reason: e.reason, channel: e.channel, nick: e.nick }, 'IRC error');
    });
    // irc-framework 4.14 never emits 'socket error'; the socket's error comes with 'socket close'.
    client.on('socket close', (err?: Error | false) => { if (err) this.lastError = err.message; });
    client.on('ping timeout', () => {
      this.lastError = `ping timeout (no answer within ${c.ping_timeout} ms)`;
      // irc-framework only half-closes; a dead peer never finishes that, so cut the socket.
      const socket = this.socket;
      setTimeout(() => socket?.destroy(), 1000).unref();
    });
    client.on('close', () => this.onClose(client));

    if (c.client_cert) {
      opts.client_certificate = { certificate: readFileSync(c.client_cert, 'utf8'), private_key: readFileSync(c.client_key ?? c.client_cert, 'utf8') };
    }
    client.connect({ ...opts, ...this.sasl.clientOptions() });
  }

  /**
   * One line from the server: checked, handed to irc-framework (`deliver`; what it or our handlers
   * throw is caught by the transport and comes to malformed()), then passed to the plugins.
   */
  private onLine(bytes: Buffer, deliver: (text: string) => void): void {
    if (bytes.includes(0)) { this.malformed(bytes, 'NUL byte in the line'); return; }
    const text = bytes.toString('utf8');
    const p = parseLine(text);
    if (!p) { this.malformed(bytes, 'not an IRC line'); return; }
    const problem = shapeProblem(p) ?? (p.command === 'CAP' && this.client ? capProblem(p, this.client.network.cap) : undefined);
    if (problem) { this.malformed(bytes, problem); return; }
    deliver(text);
    const drop = this.guard.afterLine(this.socket, this.client);
    if (drop) { this.dropConnection(drop); return; }
    this.inbound(Buffer.from(bytes), p);
  }

  /** A line that could not be taken: dropped, counted, logged (rate-limited); too many drop the connection. */
  private malformed(bytes: Buffer, err: unknown): void {
    this.counters.malformed++;
    const suppressed = this.logLimit.take('malformed');
    const why = typeof err === 'string' ? err : err instanceof Error ? err.message : String(err);
    if (suppressed !== undefined) this.o.log.warn({ line: showBytes(bytes, 200), why, suppressed }, 'malformed line from the server dropped');
    const drop = this.guard.malformed();
    if (drop) this.dropConnection(drop);
  }

  /** The server's input is not acceptable: stop reading, close, and reconnect with backoff. */
  private dropConnection(reason: string): void {
    if (!this.transport || !this.socket) return;
    this.counters.hostileDrops++;
    this.lastError = reason;
    this.o.log.error({ reason }, 'dropping the connection');
    this.transport.stopReading();
    this.socket.destroy();
  }

  private inbound(bytes: Buffer, p: NonNullable<ReturnType<typeof parseLine>>): void {
    if (p.command === 'PING' || p.command === 'PONG') return;
    const meta: Meta = { 'hive.nick': this.nick };
    const tags = p.tags;
    if (tags && Object.keys(tags).length) {
      meta['hive.tags'] = tags;
      if (tags.account) meta['hive.account'] = tags.account;
      if (tags.time) {
        const t = Date.parse(tags.time);
        if (!Number.isNaN(t)) meta['hive.time'] = t;
      }
    }
    // The prefix is parsed already: the speaker comes from it, not from a second scan of the bytes.
    this.o.sink.line(this.name, bytes, meta, speakerOf(p));
  }

  /** What this network looks like now (for `hive tree` and the Details property). */
  status(): IrcNetworkStatus {
    return { connected: this.socket !== undefined, registered: this.registered, account: this.sasl.account, lastDisconnect: this.lastDisconnect };
  }

  private write(line: Buffer): void {
    const s = this.socket;
    if (!s || s.destroyed) return;
    s.write(Buffer.concat([line, CRLF]));
  }

  private onClose(client: IrcClient): void {
    if (this.client !== client) return;
    const wasRegistered = this.registered;
    this.registered = false;
    this.joined.clear();
    this.socket = undefined;
    this.outbound.setOpen(false);
    if (this.regainTimer) { clearInterval(this.regainTimer); this.regainTimer = undefined; }
    if (this.stableTimer) { clearTimeout(this.stableTimer); this.stableTimer = undefined; }
    this.sasl.disconnected();
    this.lastDisconnect = this.lastError || 'connection closed';
    this.o.sink.event(this.name, 'disconnected', { 'hive.nick': this.nick, 'hive.reason': this.lastDisconnect });
    if (this.stopping) return;
    const delayMs = backoffDelay(this.attempt++, { baseMs: this.o.config.reconnect.min_delay, maxMs: this.o.config.reconnect.max_delay });
    this.o.log.warn({ wasRegistered, reason: this.lastError || 'connection closed', delayMs, attempt: this.attempt }, 'disconnected; reconnecting');
    this.lastError = '';
    this.reconnectTimer = setTimeout(() => { this.reconnectTimer = undefined; client.removeAllListeners(); this.connect(); }, delayMs);
  }

  private scheduleRegain(): void {
    if (this.regainTimer) clearInterval(this.regainTimer);
    this.regainTimer = undefined;
    const wanted = this.o.config.nick;
    const mine = () => (this.currentNick ?? '').toLowerCase() === wanted.toLowerCase();
    if (!this.client || mine()) return;
    this.regainTimer = setInterval(() => {
      if (this.registered && this.client && !mine()) this.client.changeNick(wanted);
    }, this.o.config.nick_regain);
  }

  private later(fn: () => void, ms: number): void {
    const t = setTimeout(() => { this.timers.delete(t); fn(); }, ms);
    this.timers.add(t);
  }

  async stop(reason = 'Hive shutting down'): Promise<void> {
    this.stopping = true;
    forgetTrust(this);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.regainTimer) clearInterval(this.regainTimer);
    if (this.stableTimer) clearTimeout(this.stableTimer);
    this.sasl.stopRetry();
    for (const t of this.timers) clearTimeout(t);
    this.outbound.close();
    const client = this.client;
    if (!client || !this.socket) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 1000);
      client.once('close', () => { clearTimeout(t); resolve(); });
      client.quit(reason);
    });
  }
}
