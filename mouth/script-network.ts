/**
 * The scripted network (`type: script`): a network made of one unix socket, for tests of plugins
 * (hive/testing drives it). A client writes JSON lines — `{"say": TEXT, "as": NICK, "in": CHANNEL}`
 * becomes a PRIVMSG from NICK!NICK@script, `{"line": RAW}` any line a server could send — and is
 * answered `{"ok": true, "hive_id": …}` for each (with its `id` when it gave one); every line the
 * bot sends here comes back as `{"sent": RAW, "command", "target", "text", "reply_to", "origin",
 * "meta", …}`. What the bot sends goes through the same outbound checks as on IRC (allow-list,
 * injection, CTCP, splitting), unpaced, as on the terminal.
 *
 * The socket is the boundary: each line is at most SCRIPT_LINE_MAX bytes, JSON, and checked
 * (checkRequest); anything else is answered with an error line and counted (`bad_requests`), and the
 * connection goes on. One client at a time: a second is answered `Busy` and closed. A client that
 * does not read what the bot sends is dropped once SCRIPT_OUT_MAX bytes wait for it.
 */
import { lstat, unlink } from 'node:fs/promises';
import { chmodSync } from 'node:fs';
import net from 'node:net';
import type { Logger } from 'pino';
import { LIMITS } from '../protocol/limits.js';
import { parseLine } from '../protocol/irc-line.js';
import type { Meta } from '../protocol/metadata.js';
import { createTokenBucket } from '../protocol/token-bucket.js';
import { createAllowList } from './allow-list.js';
import type { ScriptNetworkConfig, ScriptSent } from './network-config.js';
import type { Network, NetworkSink } from './network.js';
import { OutboundRefused } from './outbound-error.js';
import { Outbound, speakerOf, type Sender } from './outbound.js';
import { shapeProblem } from './server-line-shape.js';

/** Bytes of one request line (without its LF). */
export const SCRIPT_LINE_MAX = 64 * 1024;
/** Bytes the bot's lines may wait for a client that does not read them before it is dropped. */
export const SCRIPT_OUT_MAX = 8 * 1024 * 1024;

export type ScriptErrorCode = 'LineTooLong' | 'BadJson' | 'BadRequest' | 'Busy';

/** A request the client made that cannot be taken; `code` goes back on the error line. */
export class ScriptRequestError extends Error {
  constructor(readonly code: ScriptErrorCode, message: string) {
    super(message);
    this.name = 'ScriptRequestError';
  }
}

const CHANNEL = /^[#&+!][^\s,\x07\0]{1,199}$/;
/** What IRC cannot carry inside a line. */
const NOT_IN_A_LINE = /[\r\n\0]/;

/** The nick rule of network-config.ts's nickSchema, here so that this module loads no zod (issue 17). */
const NICK = /^[A-Za-z[\]\\`_^{|}][A-Za-z0-9[\]\\`_^{|}-]{0,31}$/;

interface Request { say?: string; as?: string; in?: string; line?: string; id?: string | number }
const REQUEST_KEYS = new Set(['say', 'as', 'in', 'line', 'id']);

/**
 * A client's request line, checked (a plain check, not zod: a mouth with a scripted network loads
 * no zod): a JSON object with exactly one of `say` and `line`, and nothing else than these keys.
 * Returns the request, or why not.
 */
export function checkRequest(json: unknown): Request | { problem: string } {
  if (!json || typeof json !== 'object' || Array.isArray(json)) return { problem: `expected a JSON object; got ${Array.isArray(json) ? 'an array' : json === null ? 'null' : typeof json}` };
  const r = json as Record<string, unknown>;
  const problems: string[] = [];
  const extra = Object.keys(r).filter((k) => !REQUEST_KEYS.has(k));
  if (extra.length) problems.push(`unrecognized key${extra.length > 1 ? 's' : ''}: ${extra.slice(0, 5).map((k) => JSON.stringify(k.slice(0, 64))).join(', ')}`);
  const text = (key: string, check: (t: string) => string | undefined) => {
    const v = r[key];
    if (v === undefined) return;
    const problem = typeof v === 'string' ? check(v) : `expected a string; got ${v === null ? 'null' : typeof v}`;
    if (problem) problems.push(`${key}: ${problem}`);
  };
  const inALine = (t: string) => (NOT_IN_A_LINE.test(t) ? 'CR, LF and NUL cannot be in an IRC line' : undefined);
  text('say', inALine);
  text('as', (t) => (NICK.test(t) ? undefined : 'expected an IRC nick (letters, digits and []\\`_^{|}-, not starting with a digit or -)'));
  text('in', (t) => (t.length > 200 ? 'at most 200 characters' : undefined));
  text('line', (t) => (t.length === 0 ? 'expected at least 1 character' : inALine(t)));
  const id = r.id;
  if (id !== undefined && !((typeof id === 'string' && id.length <= 200) || (typeof id === 'number' && Number.isFinite(id)))) problems.push('id: expected a string of at most 200 characters or a finite number');
  if ((r.say === undefined) === (r.line === undefined)) problems.push('expected exactly one of "say" and "line"');
  if (r.line !== undefined && (r.as !== undefined || r.in !== undefined)) problems.push('"as" and "in" go with "say", not with "line"');
  return problems.length ? { problem: problems.join('; ') } : (r as Request);
}


export interface ScriptOptions {
  name: string;
  config: ScriptNetworkConfig;
  sink: NetworkSink;
  log: Logger;
}

/** A value of the metadata as JSON can carry it: variants unwrapped, 64-bit integers as numbers (or strings past 2^53), bytes as text. */
function plain(v: unknown, depth = 0): unknown {
  if (depth > 8) return null;
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : String(v);
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (Array.isArray(v)) return v.map((x) => plain(x, depth + 1));
  if (v && typeof v === 'object') {
    // A dbus-next Variant: { signature, value }.
    if ('signature' in v && 'value' in v && Object.keys(v).length === 2) return plain((v as { value: unknown }).value, depth + 1);
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x, depth + 1)]));
  }
  return v;
}

export class ScriptNetwork implements Network {
  readonly name: string;
  readonly nick: string;
  readonly counters = { requests: 0, bad_requests: 0, clients: 0, clients_refused: 0, clients_dropped: 0 };
  private readonly outbound: Outbound;
  private server: net.Server | undefined;
  private client: net.Socket | undefined;
  /** Lines sent while no client was connected (JSON lines), for the next one. */
  private readonly backlog: string[] = [];
  /** The message whose lines the outbound is writing now: it writes them within submit (unpaced). */
  private current: { sender: Sender; replyTo?: string; meta?: Record<string, unknown>; message: number; lines: ScriptSent[] } | undefined;
  private messages = 0;

  constructor(private readonly o: ScriptOptions) {
    this.name = o.name;
    this.nick = o.config.nick;
    this.outbound = new Outbound({
      allowList: createAllowList(),
      bucket: createTokenBucket({ ratePerSec: Infinity }),
      queueMax: 10_000,
      prefixLength: () => `:${this.nick}!${this.nick}@script `.length,
      write: (line) => this.wrote(line),
      log: o.log,
    });
  }

  async start(): Promise<void> {
    const path = this.o.config.socket;
    await this.clearStale(path);
    const server = net.createServer((socket) => this.accept(socket));
    server.maxConnections = 16; // a second client is answered Busy; more than a few at once is not a test
    // The socket is the client's whole power over the bot: created 0600 (no window at 0755), checked after.
    const umask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => { server.off('error', reject); resolve(); });
      });
    } finally {
      process.umask(umask);
    }
    chmodSync(path, 0o600);
    server.on('error', (err) => this.o.log.error({ err }, 'script socket error'));
    this.server = server;
    const meta = () => ({ 'hive.nick': this.nick });
    this.o.sink.event(this.name, 'connecting', meta());
    this.o.sink.event(this.name, 'registered', meta());
    this.outbound.setOpen(true);
    this.o.log.info({ socket: path }, 'script network listening');
  }

  /** A socket file left by a mouth that died is removed; a live one (another mouth) or any other file is not. */
  private async clearStale(path: string): Promise<void> {
    const st = await lstat(path).catch(() => undefined);
    if (!st) return;
    if (!st.isSocket()) throw new Error(`script network: ${path} exists and is not a socket`);
    const live = await new Promise<boolean>((resolve) => {
      const c = net.connect(path);
      c.once('connect', () => { c.destroy(); resolve(true); });
      c.once('error', () => resolve(false));
    });
    if (live) throw new Error(`script network: another program listens on ${path}`);
    await unlink(path);
  }

  private accept(socket: net.Socket): void {
    if (this.client) {
      this.counters.clients_refused++;
      socket.end(JSON.stringify({ error: 'Busy', message: 'another client is connected; one at a time' }) + '\n');
      socket.on('error', () => undefined);
      return;
    }
    this.counters.clients++;
    this.client = socket;
    this.o.log.info('script client connected');
    let held: Buffer[] = [];
    let heldBytes = 0;
    let skipping = false; // inside a line that was already refused as too long
    socket.on('data', (chunk: Buffer) => {
      let start = 0;
      for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
        const piece = chunk.subarray(start, nl);
        start = nl + 1;
        if (skipping) skipping = false;
        else if (heldBytes + piece.length > SCRIPT_LINE_MAX) this.refuse(new ScriptRequestError('LineTooLong', `a request line is at most ${SCRIPT_LINE_MAX} bytes`));
        else this.request(held.length ? Buffer.concat([...held, piece]) : piece);
        held = [];
        heldBytes = 0;
        if (this.client !== socket) return;
      }
      if (skipping || start === chunk.length) return;
      const rest = chunk.subarray(start);
      if (heldBytes + rest.length > SCRIPT_LINE_MAX) {
        // Refused now, not at its end: an endless line must not be held.
        this.refuse(new ScriptRequestError('LineTooLong', `a request line is at most ${SCRIPT_LINE_MAX} bytes`));
        held = [];
        heldBytes = 0;
        skipping = true;
      } else {
        held.push(rest);
        heldBytes += rest.length;
      }
    });
    const gone = () => {
      if (this.client !== socket) return;
      this.client = undefined;
      this.o.log.info('script client gone');
    };
    // A client that ends its side is gone at once: the socket cannot be written after that (it is
    // not half-open), and what the bot says next waits in the backlog for the next client.
    socket.on('end', gone);
    socket.on('close', gone);
    socket.on('error', (err) => { this.o.log.debug({ err }, 'script client error'); gone(); });
    for (const line of this.backlog.splice(0)) this.send(line);
  }

  private refuse(err: ScriptRequestError, id?: string | number): void {
    this.counters.bad_requests++;
    this.o.log.debug({ code: err.code, message: err.message }, 'script request refused');
    this.send(JSON.stringify({ error: err.code, message: err.message, ...(id !== undefined && { id }) }));
  }

  private request(raw: Buffer): void {
    const bytes = raw.length && raw[raw.length - 1] === 13 ? raw.subarray(0, -1) : raw;
    if (bytes.length === 0) return;
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      return this.refuse(new ScriptRequestError('BadJson', 'expected one JSON object per line, in UTF-8: the line is not valid UTF-8'));
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      return this.refuse(new ScriptRequestError('BadJson', `expected one JSON object per line: ${(err as Error).message}`));
    }
    const id = json && typeof json === 'object' && !Array.isArray(json) ? (json as { id?: unknown }).id : undefined;
    const idBack = typeof id === 'string' && id.length <= 200 ? id : typeof id === 'number' && Number.isFinite(id) ? id : undefined;
    const checked = checkRequest(json);
    if ('problem' in checked) return this.refuse(new ScriptRequestError('BadRequest', checked.problem), idBack);
    try {
      const hiveId = this.take(checked);
      this.counters.requests++;
      this.send(JSON.stringify({ ok: true, ...(idBack !== undefined && { id: idBack }), hive_id: hiveId }));
    } catch (err) {
      // Whatever the mouth could not take from a client's line is that line's refusal, never a
      // throw out of the socket's 'data' handler (the mouth's process).
      if (err instanceof ScriptRequestError) return this.refuse(err, idBack);
      this.o.log.warn({ err }, 'script request failed');
      this.refuse(new ScriptRequestError('BadRequest', `the mouth could not take it: ${(err as Error).message}`), idBack);
    }
  }

  /** Makes the line a request stands for and hands it to the mouth; returns its hive.id. */
  private take(r: Request): string {
    let text: string;
    if (r.say !== undefined) {
      const as = r.as ?? 'alice';
      const target = r.in ?? this.o.config.channel;
      if (!CHANNEL.test(target) && target.toLowerCase() !== this.nick.toLowerCase()) {
        throw new ScriptRequestError('BadRequest', `in: expected a channel or the bot's nick (${this.nick}); got ${JSON.stringify(target.slice(0, 64))}`);
      }
      text = `:${as}!${as}@script PRIVMSG ${target} :${r.say}`;
    } else {
      text = r.line!;
    }
    const bytes = Buffer.from(text);
    if (bytes.length > LIMITS.maxLineBytes) throw new ScriptRequestError('BadRequest', `the IRC line would be ${bytes.length} bytes; at most ${LIMITS.maxLineBytes}`);
    const p = parseLine(bytes);
    if (!p) throw new ScriptRequestError('BadRequest', 'line: not an IRC line');
    const problem = shapeProblem(p);
    if (problem) throw new ScriptRequestError('BadRequest', `line: ${problem}`);
    // The metadata the IRC network gives a line (irc-network.ts inbound).
    const meta: Meta = { 'hive.nick': this.nick };
    if (Object.keys(p.tags).length) {
      meta['hive.tags'] = p.tags;
      if (p.tags.account) meta['hive.account'] = p.tags.account;
      if (p.tags.time) {
        const t = Date.parse(p.tags.time);
        if (!Number.isNaN(t)) meta['hive.time'] = t;
      }
    }
    return this.o.sink.line(this.name, bytes, meta, speakerOf(p));
  }

  private send(line: string): void {
    const c = this.client;
    if (!c || c.destroyed) return;
    if (c.writableLength > SCRIPT_OUT_MAX) {
      this.counters.clients_dropped++;
      this.o.log.warn({ waiting: c.writableLength }, 'script client does not read what the bot sends; dropping it');
      c.destroy();
      this.client = undefined;
      return;
    }
    c.write(line + '\n');
  }

  /** Submits one message; `meta` (its wire metadata) comes back with its lines to the client. */
  submit(sender: Sender, lines: Buffer[], replyTo?: string, meta?: Record<string, unknown>): void {
    this.current = { sender, replyTo, meta, message: ++this.messages, lines: [] };
    try {
      this.outbound.submit(sender, lines);
    } catch (err) {
      if (err instanceof OutboundRefused) {
        this.out({ refused: err.code, message: err.message, lines: lines.map(String), reply_to: replyTo, origin: sender.origin, via: sender.via });
      }
      throw err;
    } finally {
      const done = this.current;
      this.current = undefined;
      const n = done.lines.length;
      done.lines.forEach((s, i) => this.out({ ...s, last: i === n - 1 }));
    }
  }

  private wrote(line: Buffer): void {
    const p = parseLine(line);
    const params = p?.params ?? [];
    const command = p?.command ?? '';
    const cur = this.current;
    const rec: ScriptSent = {
      sent: line.toString('utf8'),
      command,
      target: params[0],
      text: command === 'PRIVMSG' || command === 'NOTICE' ? params[params.length - 1] : undefined,
      reply_to: cur?.replyTo,
      origin: cur?.sender.origin,
      via: cur?.sender.via,
      message: cur ? cur.message : ++this.messages,
      last: true,
      meta: cur?.meta ? (plain(cur.meta) as Record<string, unknown>) : {},
    };
    // Lines of a message in submit are written out together once it has all of them (last marks the end).
    if (cur) cur.lines.push(rec);
    else this.out(rec);
  }

  private out(rec: object): void {
    const line = JSON.stringify(rec);
    if (this.client) return this.send(line);
    this.backlog.push(line);
    if (this.backlog.length > this.o.config.backlog) this.backlog.shift();
  }

  outboundCounters(): Record<string, number> { return this.outbound.counters(); }

  async stop(): Promise<void> {
    this.outbound.close();
    this.client?.destroy();
    this.client = undefined;
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
