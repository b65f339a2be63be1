/**
 * An IRC network through irc-framework. irc-framework does parsing, registration, CAP and SASL;
 * the mouth owns the connection life (its own reconnect loop with backoff and jitter, rejoin,
 * alternate nicks and regaining the wanted one, rejoin after a kick) and the outbound path,
 * because irc-framework has no send queue, drops writes while disconnected and gives up
 * reconnecting. Inbound lines are taken from the socket as bytes, so a line that is not valid
 * UTF-8 reaches the plugins intact.
 */
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import irc, { type Client as IrcClient } from 'irc-framework';
import type { Logger } from 'pino';
import type { IrcNetworkConfig } from '../tree-supervisor/config.js';
import { backoffDelay } from '../tree-supervisor/backoff.js';
import { parseLine } from '../protocol/irc-line.js';
import { LIMITS } from '../protocol/limits.js';
import type { Meta } from '../protocol/metadata.js';
import { createAllowList } from './allow-list.js';
import { relayPrefixLength } from './line-split.js';
import type { Network, NetworkSink } from './network.js';
import type { CtcpRequest } from './ctcp.js';
import { Outbound, type Sender } from './outbound.js';
import { trustCa } from './tls-trust.js';
import { createTokenBucket } from './token-bucket.js';

const CRLF = Buffer.from('\r\n');

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
  readonly counters = { badLines: 0, connects: 0 };

  constructor(private readonly o: IrcNetworkOptions) {
    this.name = o.name;
    const c = o.config;
    this.outbound = new Outbound({
      allowList: createAllowList(c.allow_commands),
      bucket: createTokenBucket({ burst: c.flood.burst, ratePerSec: c.flood.rate }),
      queueMax: c.queue_max,
      prefixLength: () => relayPrefixLength(this.nick, identOf(this.client?.user.username), this.client?.user.host || undefined),
      write: (line) => this.write(line),
      log: o.log,
    });
    if (c.ca_file) trustCa(c.host, c.port, readFileSync(c.ca_file));
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

  private connect(): void {
    const c = this.o.config;
    const log = this.o.log;
    this.nickIndex = 0;
    this.counters.connects++;
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
    };
    const client = new irc.Client(opts);
    this.client = client;
    this.o.sink.event(this.name, 'connecting', { 'hive.nick': c.nick });
    log.info({ host: c.host, port: c.port, tls: c.tls, attempt: this.attempt }, 'connecting');

    client.connection.on('socket connected', () => {
      const socket = (client.connection as unknown as { transport: { socket: Socket } }).transport.socket;
      this.socket = socket;
      this.readLines(socket);
    });
    client.on('registered', (e: { nick: string }) => {
      this.registered = true;
      this.currentNick = e.nick;
      this.attempt = 0;
      log.info({ nick: e.nick }, 'registered');
      this.o.sink.event(this.name, 'registered', { 'hive.nick': e.nick });
      for (const ch of c.channels) client.join(ch.name, ch.key);
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
    client.on('nick', (e: { nick: string; new_nick: string }) => {
      if (this.currentNick && e.nick.toLowerCase() === this.currentNick.toLowerCase() && e.nick !== e.new_nick) {
        this.currentNick = e.new_nick;
        log.info({ nick: e.new_nick }, 'nick changed');
        this.o.sink.event(this.name, 'nick', { 'hive.nick': e.new_nick });
        this.scheduleRegain();
      }
    });
    client.on('kick', (e: KickEvent) => {
      if (e.kicked.toLowerCase() !== client.user.nick.toLowerCase()) return;
      const ch = c.channels.find((x) => x.name.toLowerCase() === e.channel.toLowerCase());
      log.warn({ channel: e.channel, by: e.nick, delayMs: c.rejoin_delay }, 'kicked; rejoining later');
      this.later(() => { if (this.registered && this.client === client) client.join(e.channel, ch?.key); }, c.rejoin_delay);
    });
    // Answered within per-requester and overall limits, as a small source of its own (mouth/ctcp.ts).
    client.on('ctcp request', (e: CtcpRequest) => this.outbound.ctcp.request(e));
    client.on('sasl failed', (e: { reason: string; message?: string }) => {
      this.lastError = `SASL failed: ${e.reason}`;
      log.error({ reason: e.reason, message: e.message }, 'SASL login failed');
    });
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
    // Always an account object: without one irc-framework would try SASL PLAIN as <nick> with the
    // server password, sending that password to the services and logging a bogus SASL failure.
    opts.account = c.sasl?.mechanism === 'PLAIN' ? { account: c.sasl.account, password: c.sasl.password } : {};
    if (c.sasl?.mechanism === 'EXTERNAL') opts.sasl_mechanism = 'EXTERNAL';
    client.connect(opts);
  }

  /** Splits the socket's bytes into lines ourselves, so that no byte is re-decoded. */
  private readLines(socket: Socket): void {
    let rest: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      const buf = rest.length ? Buffer.concat([rest, chunk]) : chunk;
      let start = 0;
      for (;;) {
        const nl = buf.indexOf(0x0a, start);
        if (nl === -1) break;
        let end = nl;
        if (end > start && buf[end - 1] === 0x0d) end--;
        if (end > start) this.inbound(Buffer.from(buf.subarray(start, end)));
        start = nl + 1;
      }
      rest = Buffer.from(buf.subarray(start));
    });
  }

  private inbound(bytes: Buffer): void {
    if (bytes.length > LIMITS.maxLineBytes || bytes.includes(0)) {
      this.counters.badLines++;
      this.o.log.error({ bytes: bytes.length }, 'line from the server refused: NUL byte or too long; not passed on');
      return;
    }
    const p = parseLine(bytes);
    if (!p) {
      this.counters.badLines++;
      this.o.log.error({ bytes: bytes.length }, 'unparsable line from the server; not passed on');
      return;
    }
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
    this.o.sink.line(this.name, bytes, meta);
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
    this.socket = undefined;
    this.outbound.setOpen(false);
    if (this.regainTimer) { clearInterval(this.regainTimer); this.regainTimer = undefined; }
    this.o.sink.event(this.name, 'disconnected', { 'hive.nick': this.nick, 'hive.reason': this.lastError || 'connection closed' });
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
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.regainTimer) clearInterval(this.regainTimer);
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
