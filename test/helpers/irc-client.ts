// A raw-socket IRC client for tests. Deliberately NOT irc-framework: tests must
// see exactly what went over the wire (every line, with its receive time), and
// the code under test may itself use irc-framework.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';

export interface IrcLine {
  raw: string;
  /** Date.now() when the line was received. */
  at: number;
  tags: Record<string, string>;
  /** Source without the leading ':' (e.g. "nick!user@host"), or undefined. */
  prefix?: string;
  /** Nick part of the prefix (or the server name). */
  nick?: string;
  /** Upper-cased command or numeric ("PRIVMSG", "001"). */
  command: string;
  params: string[];
}

export type LineMatch = RegExp | ((line: IrcLine) => boolean);

export interface WaitOptions {
  /** Also consider lines received at index >= since (from mark()). Default: only lines arriving from now on. */
  since?: number;
  /** Default 10000 ms. */
  timeout?: number;
}

export interface ConnectOptions {
  host: string;
  port: number;
  nick: string;
  user?: string;
  realname?: string;
  tls?: boolean;
  /** PEM CA file to trust (the throw-away CA from ircd.ts). */
  caFile?: string;
  /** false: only connect, the test does CAP/NICK/USER itself. Default true. */
  register?: boolean;
  /** IRCv3 caps to request during registration (those the server offers). */
  caps?: string[];
  /** SASL PLAIN login during registration (implies requesting "sasl"). */
  sasl?: { account: string; password: string };
  /** Deadline for connect + registration. Default 15000 ms. */
  timeoutMs?: number;
}

const TAG_UNESCAPE: Record<string, string> = { ':': ';', s: ' ', '\\': '\\', r: '\r', n: '\n' };

/** Minimal RFC 1459 + IRCv3 message-tags parser. */
export function parseLine(raw: string, at = Date.now()): IrcLine {
  let rest = raw;
  const tags: Record<string, string> = {};
  if (rest.startsWith('@')) {
    const sp = rest.indexOf(' ');
    for (const item of rest.slice(1, sp < 0 ? undefined : sp).split(';')) {
      if (!item) continue;
      const eq = item.indexOf('=');
      const key = eq < 0 ? item : item.slice(0, eq);
      const val = eq < 0 ? '' : item.slice(eq + 1);
      tags[key] = val.replace(/\\(.?)/g, (_m, c: string) => TAG_UNESCAPE[c] ?? c);
    }
    rest = sp < 0 ? '' : rest.slice(sp + 1).trimStart();
  }
  let prefix: string | undefined;
  if (rest.startsWith(':')) {
    const sp = rest.indexOf(' ');
    prefix = rest.slice(1, sp < 0 ? undefined : sp);
    rest = sp < 0 ? '' : rest.slice(sp + 1).trimStart();
  }
  const params: string[] = [];
  const trailingAt = rest.indexOf(' :');
  const head = trailingAt < 0 ? rest : rest.slice(0, trailingAt);
  params.push(...head.split(' ').filter(Boolean));
  if (trailingAt >= 0) params.push(rest.slice(trailingAt + 2));
  const command = (params.shift() ?? '').toUpperCase();
  const nick = prefix?.split('!')[0];
  return { raw, at, tags, prefix, nick, command, params };
}

interface Waiter {
  match: (l: IrcLine) => boolean;
  resolve: (l: IrcLine) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class IrcTestClient {
  nick: string;
  private readonly received: IrcLine[] = [];
  private readonly waiters = new Set<Waiter>();
  private buffer = '';
  private closedError: Error | undefined;
  /** Resolves once the socket is closed (by either side). */
  readonly closed: Promise<void>;

  constructor(private readonly socket: net.Socket, nick: string) {
    this.nick = nick;
    socket.setEncoding('utf8'); // StringDecoder: multi-byte chars split across chunks stay intact
    socket.setNoDelay(true);
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', () => {}); // surfaced via 'close' -> rejected waiters
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.closedError = new Error(`connection to ${socket.remoteAddress}:${socket.remotePort} closed`);
        for (const w of [...this.waiters]) this.settle(w, undefined, this.closedError);
        resolve();
      }),
    );
  }

  /** Every line received so far, in order. */
  get lines(): readonly IrcLine[] {
    return this.received;
  }

  get isClosed(): boolean {
    return this.closedError !== undefined;
  }

  /** Index of the next line to arrive; pass to waitFor({since}) to avoid races. */
  mark(): number {
    return this.received.length;
  }

  send(rawLine: string): void {
    if (/[\r\n]/.test(rawLine)) throw new Error(`raw line contains CR/LF: ${JSON.stringify(rawLine)}`);
    this.socket.write(rawLine + '\r\n');
  }

  say(target: string, text: string): void {
    this.send(`PRIVMSG ${target} :${text}`);
  }

  /** JOIN and wait for the server's JOIN echo for our own nick. */
  async join(channel: string, timeout = 10_000): Promise<IrcLine> {
    const since = this.mark();
    this.send(`JOIN ${channel}`);
    return this.waitFor(
      (l) =>
        (l.command === 'JOIN' && sameName(l.nick, this.nick) && sameName(l.params[0], channel)) ||
        (/^4\d\d$/.test(l.command) && l.params.some((p) => sameName(p, channel))),
      { since, timeout },
    ).then((l) => {
      if (l.command !== 'JOIN') throw new Error(`JOIN ${channel} refused: ${l.raw}`);
      return l;
    });
  }

  /**
   * First line matching `match` (RegExp tested against the raw line) among lines
   * with index >= since (default: lines arriving after this call).
   */
  waitFor(match: LineMatch, opts: number | WaitOptions = {}): Promise<IrcLine> {
    const { since = this.mark(), timeout = 10_000 } = typeof opts === 'number' ? { timeout: opts } : opts;
    const fn = typeof match === 'function' ? match : (l: IrcLine) => match.test(l.raw);
    const found = this.received.slice(since).find(fn);
    if (found) return Promise.resolve(found);
    if (this.closedError) return Promise.reject(this.withContext(this.closedError, match));
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        match: fn,
        resolve,
        reject: (e) => reject(this.withContext(e, match)),
        timer: setTimeout(() => this.settle(w, undefined, new Error(`timed out after ${timeout} ms`)), timeout),
      };
      this.waiters.add(w);
    });
  }

  /** Send QUIT and wait (up to timeout) for the server to close the connection. */
  async quit(message = 'bye', timeout = 5_000): Promise<void> {
    if (this.isClosed) return;
    this.send(`QUIT :${message}`);
    const t = setTimeout(() => this.socket.destroy(), timeout);
    await this.closed;
    clearTimeout(t);
  }

  /** Drop the connection immediately. Safe to call repeatedly. */
  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const raw = this.buffer.slice(0, nl).replace(/\r$/, '');
      this.buffer = this.buffer.slice(nl + 1);
      if (raw) this.onLine(parseLine(raw));
    }
  }

  private onLine(line: IrcLine): void {
    this.received.push(line);
    if (line.command === 'PING') this.send(`PONG :${line.params.at(-1) ?? ''}`);
    // Track our nick so join() keeps working after a forced/explicit rename.
    if (line.command === 'NICK' && sameName(line.nick, this.nick) && line.params[0]) this.nick = line.params[0];
    for (const w of [...this.waiters]) if (w.match(line)) this.settle(w, line);
  }

  private settle(w: Waiter, line?: IrcLine, err?: Error): void {
    if (!this.waiters.delete(w)) return;
    clearTimeout(w.timer);
    if (line) w.resolve(line);
    else w.reject(err ?? new Error('unknown'));
  }

  private withContext(e: Error, match: LineMatch): Error {
    const tail = this.received.slice(-20).map((l) => '  << ' + l.raw).join('\n');
    return new Error(`${this.nick}: waitFor(${String(match)}): ${e.message}; last lines:\n${tail || '  (none)'}`);
  }
}

function sameName(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && b !== undefined && a.toLowerCase() === b.toLowerCase();
}

/** CAP LS 302 → map of offered caps (name → value, '' if none). Pre-registration only. */
export async function capLs(c: IrcTestClient, timeout = 10_000): Promise<Map<string, string>> {
  const since = c.mark();
  c.send('CAP LS 302');
  // Multi-line replies: "CAP * LS * :a b" … "CAP * LS :c d" (no '*' on the last).
  await c.waitFor((l) => l.command === 'CAP' && l.params[1] === 'LS' && l.params.length === 3, { since, timeout });
  const caps = new Map<string, string>();
  for (const l of c.lines.slice(since)) {
    if (l.command !== 'CAP' || l.params[1] !== 'LS') continue;
    for (const item of (l.params.at(-1) ?? '').split(' ').filter(Boolean)) {
      const eq = item.indexOf('=');
      caps.set(eq < 0 ? item : item.slice(0, eq), eq < 0 ? '' : item.slice(eq + 1));
    }
    if (l.params.length === 3) break;
  }
  return caps;
}

/** SASL PLAIN exchange (sasl cap must be ACKed). Resolves with the 903 line, throws on 90x failure. */
export async function saslPlain(c: IrcTestClient, account: string, password: string, timeout = 10_000): Promise<IrcLine> {
  let since = c.mark();
  c.send('AUTHENTICATE PLAIN');
  const go = await c.waitFor((l) => l.command === 'AUTHENTICATE' || /^90[4-8]$/.test(l.command), { since, timeout });
  if (go.command !== 'AUTHENTICATE') throw new Error(`SASL PLAIN refused: ${go.raw}`);
  since = c.mark();
  // Payloads > 400 bytes would need splitting; test credentials never get there.
  c.send(`AUTHENTICATE ${Buffer.from(`${account}\0${account}\0${password}`).toString('base64')}`);
  const res = await c.waitFor((l) => /^90[3-8]$/.test(l.command), { since, timeout });
  if (res.command !== '903') throw new Error(`SASL login as ${account} failed: ${res.raw}`);
  return res;
}

function openSocket(opts: ConnectOptions, timeout: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = opts.tls
      ? tls.connect({
          host: opts.host,
          port: opts.port,
          ca: opts.caFile ? readFileSync(opts.caFile) : undefined,
          // SNI must not be an IP address; the test certificate has an IP SAN for 127.0.0.1.
          servername: net.isIP(opts.host) ? undefined : opts.host,
        })
      : net.connect({ host: opts.host, port: opts.port });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`connect to ${opts.host}:${opts.port} timed out after ${timeout} ms`));
    }, timeout);
    sock.once(opts.tls ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      sock.removeAllListeners('error');
      resolve(sock);
    });
    sock.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`connect to ${opts.host}:${opts.port}${opts.tls ? ' (TLS)' : ''} failed: ${e.message}`));
    });
  });
}

/**
 * Connect and (by default) register: optional CAP negotiation / SASL, then
 * NICK/USER, resolving once 001 arrives. PINGs are always answered.
 */
export async function connectClient(opts: ConnectOptions): Promise<IrcTestClient> {
  const timeout = opts.timeoutMs ?? 15_000;
  const c = new IrcTestClient(await openSocket(opts, timeout), opts.nick);
  if (opts.register === false) return c;
  try {
    const since = c.mark();
    const wantCaps = [...(opts.caps ?? []), ...(opts.sasl ? ['sasl'] : [])];
    if (wantCaps.length) {
      const offered = await capLs(c, timeout);
      const req = [...new Set(wantCaps)].filter((x) => offered.has(x));
      if (opts.sasl && !req.includes('sasl')) throw new Error('server does not offer the sasl cap');
      if (req.length) {
        const m = c.mark();
        c.send(`CAP REQ :${req.join(' ')}`);
        const ack = await c.waitFor((l) => l.command === 'CAP' && ['ACK', 'NAK'].includes(l.params[1] ?? ''), { since: m, timeout });
        if (ack.params[1] === 'NAK') throw new Error(`CAP REQ refused: ${ack.raw}`);
      }
    }
    c.send(`NICK ${opts.nick}`);
    c.send(`USER ${opts.user ?? opts.nick} 0 * :${opts.realname ?? opts.nick}`);
    if (opts.sasl) await saslPlain(c, opts.sasl.account, opts.sasl.password, timeout);
    if (wantCaps.length) c.send('CAP END');
    const welcome = await c.waitFor((l) => ['001', '431', '432', '433', '465', 'ERROR'].includes(l.command), { since, timeout });
    if (welcome.command !== '001') throw new Error(`registration as ${opts.nick} failed: ${welcome.raw}`);
    c.nick = welcome.params[0] ?? opts.nick;
    return c;
  } catch (e) {
    c.close();
    throw e;
  }
}
