/**
 * announce: an HTTP endpoint (node:http, loopback by default) through which other programs make
 * the bot speak: `POST /announce` with `Authorization: Bearer TOKEN` and a JSON body
 * `{network, target, text}`; a text with newlines is several lines. The answer comes only after
 * the mouth accepted the message (or refused it: then nothing of it is sent, since the mouth takes
 * a HiveMessage whole or not at all), so a 200 means "queued for the network".
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { c, createTokenBucket, HiveError, definePlugin, type PluginManifest } from '../../protocol/sdk/index.js';

const Config = c.object({
  /** 0 picks a free port; the bound one is logged ('listening', {port}). */
  port: c.number().int().min(0).max(65535),
  host: c.string().min(1).default('127.0.0.1'),
  token: c.string().min(16, 'the token must have at least 16 characters'),
  /** Requests (each one message, of any number of lines): a bucket of `burst`, refilled at `per_s`. */
  rate: c.object({
    burst: c.number().int().min(1).max(10_000).default(5),
    per_s: c.number().positive().max(10_000).default(1),
  }).default({ burst: 5, per_s: 1 }),
  /** Largest accepted request body in bytes. */
  max_body: c.number().int().min(256).max(10 * 1024 * 1024).default(16 * 1024),
  /** Characters of `text`, and lines per message. */
  max_text: c.number().int().min(1).max(100_000).default(4000),
  max_lines: c.number().int().min(1).max(100).default(10),
});
type Config = c.Infer<typeof Config>;

const manifest = {
  name: 'announce',
  kind: 'automaton',
  description: 'HTTP endpoint: POST /announce {network, target, text} with a bearer token, and the bot says it',
  config: Config,
} satisfies PluginManifest;

// A target is one nick or channel: no spaces, commas (several targets), or leading ':'.
const TARGET = /^[^\s,:\0][^\s,\0]*$/;

function bodySchema(config: Config) {
  return c.object({
    network: c.string().min(1).max(64),
    target: c.string().min(1).max(64).regex(TARGET, 'must be one channel or nick, without spaces or commas'),
    text: c.string().min(1).max(config.max_text, `must have at most ${config.max_text} characters`)
      // Lines end with \n (or \r\n); any other CR or a NUL could smuggle a second IRC command.
      .refine((t) => !/[\0]|\r(?!\n)/.test(t), 'must not contain NUL or a lone CR'),
  }).strict();
}

/** Which HTTP status a refusal from the hive is answered with. */
function statusOf(code: string): number {
  switch (code) {
    case 'NetworkUnknown': case 'InvalidMessage': case 'Refused': case 'InvalidArgs': return 422;
    case 'QueueFull': case 'NoParent': return 503;
    case 'Timeout': return 504;
    default: return 502;
  }
}

class ClientGone extends Error {}

/** Bytes of an unwanted request body read (and dropped) after an early refusal. */
const DRAIN_MAX = 1024 * 1024;

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export default definePlugin(manifest, async function announce(hive) {
  const config = hive.config;
  const Body = bodySchema(config);
  const bucket = createTokenBucket({ burst: config.rate.burst, ratePerSec: config.rate.per_s });
  // Compared as SHA-256 digests: equal lengths for timingSafeEqual, and the token's length leaks nothing.
  const tokenDigest = digest(config.token);

  const answer = (res: ServerResponse, status: number, body: Record<string, unknown>, headers: Record<string, string> = {}) => {
    const text = JSON.stringify(body) + '\n';
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  };
  const fail = (res: ServerResponse, status: number, error: string, message: string, headers: Record<string, string> = {}, extra: Record<string, unknown> = {}) =>
    answer(res, status, { ok: false, error, message, ...extra }, headers);

  /**
   * Answers before the body was read. The rest of the body is read and dropped, up to DRAIN_MAX:
   * closing the connection under a client that is still writing resets it, and the client sees
   * EPIPE instead of the answer. Beyond that, the connection is cut.
   */
  const refuseEarly = (req: IncomingMessage, res: ServerResponse, status: number, error: string, message: string, headers: Record<string, string> = {}) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > DRAIN_MAX) headers = { connection: 'close', ...headers };
    let dropped = 0;
    req.on('data', (c: Buffer) => {
      dropped += c.length;
      if (dropped > DRAIN_MAX) req.socket.destroy();
    });
    req.resume();
    fail(res, status, error, message, headers);
  };

  const authorized = (req: IncomingMessage): boolean => {
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(req.headers.authorization ?? '');
    return m !== null && timingSafeEqual(digest(m[1]!), tokenDigest);
  };

  function readBody(req: IncomingMessage): Promise<Buffer | 'too large'> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let over = false;
      req.on('data', (c: Buffer) => {
        if (over) return;
        size += c.length;
        if (size > config.max_body) { over = true; chunks.length = 0; resolve('too large'); return; }
        chunks.push(c);
      });
      req.on('end', () => { if (!over) resolve(Buffer.concat(chunks)); });
      req.on('error', reject);
      // A client that goes away mid-body: nothing to answer, nothing to send.
      req.on('close', () => { if (!req.complete && !over) reject(new ClientGone()); });
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/announce') return refuseEarly(req, res, 404, 'NotFound', `no such path; POST /announce`);
    if (req.method !== 'POST') return refuseEarly(req, res, 405, 'MethodNotAllowed', `${req.method} is not allowed here; use POST`, { allow: 'POST' });
    if (!authorized(req)) return refuseEarly(req, res, 401, 'Unauthorized', 'missing or wrong bearer token', { 'www-authenticate': 'Bearer realm="hive"' });
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > config.max_body) return refuseEarly(req, res, 413, 'PayloadTooLarge', `the body may have at most ${config.max_body} bytes`);
    if (!bucket.take()) {
      const s = Math.max(1, Math.ceil(bucket.nextAvailableInMs() / 1000));
      return refuseEarly(req, res, 429, 'TooManyRequests', `too many requests; try again in ${s}s`, { 'retry-after': String(s) });
    }

    const raw = await readBody(req);
    if (raw === 'too large') return refuseEarly(req, res, 413, 'PayloadTooLarge', `the body may have at most ${config.max_body} bytes`);
    let json: unknown;
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch (err) {
      return fail(res, 400, 'BadRequest', `the body is not JSON: ${(err as Error).message}`);
    }
    const r = Body.safeParse(json);
    if (!r.success) {
      const issues = r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
      return fail(res, 400, 'BadRequest', issues.map((i) => `${i.path || '(body)'}: ${i.message}`).join('; '), {}, { issues });
    }
    const { network, target } = r.data;
    const lines = r.data.text.split(/\r?\n/).filter((l) => l.trim() !== '');
    if (!lines.length) return fail(res, 400, 'BadRequest', 'text: has no line with anything in it', {}, { issues: [{ path: 'text', message: 'has no line with anything in it' }] });
    if (lines.length > config.max_lines) return fail(res, 400, 'BadRequest', `text: must have at most ${config.max_lines} lines`, {}, { issues: [{ path: 'text', message: `must have at most ${config.max_lines} lines` }] });

    try {
      // One HiveMessage with every line: the mouth sends all of them or, refusing, none.
      await hive.say(network, target, lines.join('\n'));
    } catch (err) {
      const code = err instanceof HiveError ? err.code : 'Failed';
      const status = statusOf(code);
      hive.log.warn({ err, network, target, status }, 'announcement refused');
      const headers: Record<string, string> = status === 503 ? { 'retry-after': '1' } : {};
      const message = code === 'Timeout' ? 'the hive did not answer in time; the message may or may not have been sent' : (err as Error).message;
      return fail(res, status, code, message, headers);
    }
    hive.log.info({ network, target, lines: lines.length, from: req.socket.remoteAddress }, 'announced');
    answer(res, 200, { ok: true, lines: lines.length });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (err instanceof ClientGone || (err as NodeJS.ErrnoException).code === 'ECONNRESET') {
        hive.log.debug('client went away before the body was complete');
        return;
      }
      hive.log.error({ err }, 'request failed');
      if (!res.headersSent) fail(res, 500, 'Failed', 'internal error, see the log');
      else res.destroy();
    });
  });
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => { server.off('error', reject); resolve(); });
  }).catch((err: Error) => {
    throw new HiveError('Failed', `cannot listen on ${config.host}:${config.port}: ${err.message}`, { cause: err });
  });
  const addr = server.address() as AddressInfo;
  hive.log.info({ host: addr.address, port: addr.port }, 'listening');

  return () => new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
});
