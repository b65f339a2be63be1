/**
 * `hive web`'s HTTP side: one page, its live updates (server-sent events), a small JSON API whose
 * POSTs make the same supervisor calls as `hive stop|start|restart|unload`, and `/metrics`.
 * Every request passes guard.ts first (Host, method, no body, token, Origin); what it refuses is
 * answered 4xx, counted by reason (`hive_web_refused_total`) and logged, rate-limited.
 * Listens on loopback or a unix socket only (listen.ts), with bounded headers, request time,
 * connections and event-stream clients.
 */
import { createServer, type Server } from 'node:http';
import { chmod, lstat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Hono, type Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { getRequestListener, type HttpBindings } from '@hono/node-server';
import { NAME_PATTERN } from '../../protocol/names.js';
import { HiveError } from '../../protocol/errors.js';
import { createLogLimiter } from '../../protocol/log-limit.js';
import type { Logger } from '../../protocol/logger.js';
import type { RuntimeInfo } from '../runtime-file.js';
import { checkRequest, type RefusalReason } from './guard.js';
import { newToken } from './token.js';
import { ListenError, type ListenSpec } from './listen.js';
import { EventHub } from './events.js';
import { MessageFeed } from './message-feed.js';
import { renderMetrics } from './metrics.js';
import { SupervisorLink, type NodeAction, type WebTree } from './supervisor-link.js';
import { pageHtml } from './page.js';

export interface WebOptions {
  listen: ListenSpec;
  log: Logger;
  /** Pages connected for live updates at once (default 16). */
  maxClients?: number;
  /** How often the connected pages get the whole tree (default 1000 ms). */
  treeEveryMs?: number;
  /** Events waiting for a page before it is cut off as not reading (default 256). */
  maxPending?: number;
}

export interface WebServer {
  /**
   * The page's address with its token in the fragment, which the browser never sends anywhere
   * (`http://127.0.0.1:PORT/#token=…`; for a unix socket, `http://localhost/#token=…`).
   */
  url: string;
  token: string;
  /** The unix socket, when listening on one. */
  socket?: string;
  port?: number;
  /** Resolves when the hive ended: its bus connection closed or its supervisor's name lost its owner. */
  hiveGone: Promise<void>;
  refused: Record<string, number>;
  close(): Promise<void>;
}

// A Map: `__proto__` or `toString` is no action (a plain object would find one).
const ACTIONS = new Map<string, NodeAction>([['start', 'Start'], ['stop', 'Stop'], ['restart', 'Restart'], ['unload', 'Unload']]);
const MAX_CONNECTIONS = 64;
const LOG_LINES_MAX = 200;

export async function startWeb(info: RuntimeInfo, o: WebOptions): Promise<WebServer> {
  const log = o.log;
  const token = newToken();
  const refused: Record<string, number> = {};
  const limiter = createLogLimiter();
  const refuse = (c: Context<{ Bindings: HttpBindings }>, status: 400 | 401 | 403 | 404 | 405 | 413 | 503, reason: RefusalReason | 'not_found' | 'bad_node' | 'too_many_pages', text: string) => {
    count(reason);
    return c.json({ error: reason, message: text }, status);
  };
  const count = (reason: string, extra: Record<string, unknown> = {}) => {
    refused[reason] = (refused[reason] ?? 0) + 1;
    const suppressed = limiter.take(reason);
    if (suppressed !== undefined) log.warn({ reason, ...extra, ...(suppressed ? { suppressed } : {}) }, 'web request refused');
  };

  const link = await SupervisorLink.open(info, () => count('forged_signal'));
  const hub = new EventHub({ maxClients: o.maxClients ?? 16, maxPending: o.maxPending ?? 256, onSlow: () => count('slow_page') });

  // One Tree call at a time, shared by whoever asks meanwhile (the pages' tick, a state change, a
  // scrape): a slow supervisor is not asked again and again. A failure is undefined, never an old tree.
  let reading: Promise<WebTree | undefined> | undefined;
  let last: { at: number; tree: WebTree } | undefined;
  const readTree = (): Promise<WebTree | undefined> => reading ??= link.tree().then((t) => { last = { at: Date.now(), tree: t }; return t; }, (err: unknown) => {
    if (limiter.take('tree') !== undefined) log.warn({ err }, 'cannot read the tree');
    return undefined;
  }).finally(() => { reading = undefined; });
  const feed = new MessageFeed({
    info, log, perSecond: 200, each: (m) => hub.broadcast('message', m),
    // Names from the pages' Tree (read every second while they are open), not a call of its own.
    nodes: async () => (last && Date.now() - last.at < 2_500 ? last.tree : await readTree())?.nodes.map((n) => ({ name: n.name, unique_name: typeof n.unique_name === 'string' ? n.unique_name : null })) ?? [],
  });
  const pushTree = async () => {
    const t = await readTree();
    if (t) hub.broadcast('tree', { ...t, skipped: feed.skipped });
  };
  // A state change is shown at once; the counters follow with the next Tree.
  let soon: NodeJS.Timeout | undefined;
  link.onStateChanged((node, state) => {
    hub.broadcast('state', { node, state });
    soon ??= setTimeout(() => { soon = undefined; void pushTree(); }, 50);
  });
  const ticker = setInterval(() => { if (hub.size) void pushTree(); }, o.treeEveryMs ?? 1000);

  const app = new Hono<{ Bindings: HttpBindings }>();
  // The page itself is an empty shell, served without the token: its script takes the token from
  // the address's fragment and sends it as a header (page-script.ts). Everything else needs it.
  const OPEN = new Set(['/', '/favicon.ico']);
  app.use('*', async (c, next) => {
    const url = new URL(c.req.url);
    const verdict = checkRequest({
      method: c.req.method, host: c.req.header('host'), origin: c.req.header('origin'), authorization: c.req.header('authorization'),
      queryToken: url.searchParams.get('token') ?? undefined,
      contentLength: c.req.header('content-length'), transferEncoding: c.req.header('transfer-encoding'),
    }, token, { open: c.req.method === 'GET' && OPEN.has(url.pathname) });
    if ('reason' in verdict) {
      count(verdict.reason, { method: c.req.method, path: url.pathname.slice(0, 100) });
      return c.json({ error: verdict.reason, message: verdict.text }, verdict.status);
    }
    c.header('Cache-Control', 'no-store');
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('Referrer-Policy', 'no-referrer');
    c.header('X-Frame-Options', 'DENY');
    await next();
  });

  app.get('/', (c) => {
    const nonce = randomBytes(16).toString('base64');
    c.header('Content-Security-Policy', `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`);
    return c.html(pageHtml({ nonce }));
  });

  // Browsers ask for it on their own: answered empty rather than counted as a probe.
  app.get('/favicon.ico', (c) => c.body(null, 204));

  app.get('/api/tree', async (c) => {
    const t = await readTree();
    return t ? c.json(t) : c.json({ error: 'unavailable', message: 'the supervisor did not answer' }, 502);
  });

  const nodeName = (c: Context): string | undefined => {
    const n = c.req.param('name');
    return n !== undefined && NAME_PATTERN.test(n) ? n : undefined;
  };

  app.get('/api/nodes/:name/logs', async (c) => {
    const node = nodeName(c);
    if (!node) return refuse(c, 400, 'bad_node', `a node name is ${NAME_PATTERN.source}`);
    const max = Math.min(LOG_LINES_MAX, Math.max(1, Number(c.req.query('max') ?? 100) || 100));
    try {
      const lines = await link.logs(node, max);
      return c.json(lines.map((l) => { try { return JSON.parse(l) as unknown; } catch { return { msg: l }; } }));
    } catch (err) {
      return supervisorError(c, err);
    }
  });

  app.post('/api/nodes/:name/:action', async (c) => {
    const node = nodeName(c);
    const action = ACTIONS.get(c.req.param('action'));
    if (!action) return refuse(c, 404, 'not_found', `no such action; one of ${[...ACTIONS.keys()].join(', ')}`);
    if (!node) return refuse(c, 400, 'bad_node', `a node name is ${NAME_PATTERN.source}`);
    try {
      await link.act(action, node);
      log.info({ child: node, action }, 'node action from the web view');
      void pushTree();
      return c.json({ node, done: action.toLowerCase() });
    } catch (err) {
      return supervisorError(c, err);
    }
  });

  app.get('/metrics', async (c) => {
    const [t, details, supervisor] = await Promise.all([readTree(), link.mouthDetails(), link.supervisorCounters()]);
    if (!t) return c.text('# the supervisor did not answer\n', 502);
    return c.body(renderMetrics({ nodes: t.nodes, mouthDetails: details, supervisor, refused, sseClients: hub.size }), 200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
  });

  app.get('/events', (c) => {
    if (hub.size >= (o.maxClients ?? 16)) return refuse(c, 503, 'too_many_pages', `at most ${o.maxClients ?? 16} pages at once`);
    return streamSSE(c, async (stream) => {
      const client = hub.add(stream, () => c.env.outgoing.destroy());
      if (!client) return;
      feed.acquire();
      try {
        const t = await readTree();
        if (t) client.send('tree', { ...t, skipped: feed.skipped });
        await client.done;
      } finally {
        feed.release();
      }
    });
  });

  app.notFound((c) => refuse(c, 404, 'not_found', 'no such page'));
  app.onError((err, c) => {
    log.error({ err }, 'web request failed');
    return c.json({ error: 'failed', message: 'the request failed; see the log of hive web' }, 500);
  });

  const server = createServer({ maxHeaderSize: 8192, requestTimeout: 10_000, headersTimeout: 5_000, keepAliveTimeout: 5_000, connectionsCheckingInterval: 1_000 }, getRequestListener(app.fetch));
  server.maxConnections = MAX_CONNECTIONS;
  server.on('drop', () => count('too_many_connections'));
  const cleanup = () => { clearInterval(ticker); if (soon) clearTimeout(soon); hub.closeAll(); feed.close(); link.close(); };
  try {
    await listen(server, o.listen);
  } catch (err) {
    cleanup();
    throw err;
  }
  const address = server.address();
  const base = o.listen.kind === 'unix' ? 'http://localhost' : `http://${o.listen.host.includes(':') ? `[${o.listen.host}]` : o.listen.host}:${(address as AddressInfo).port}`;
  let closing: Promise<void> | undefined;
  return {
    url: `${base}/#token=${token}`,
    token,
    ...(o.listen.kind === 'unix' ? { socket: o.listen.path } : { port: (address as AddressInfo).port }),
    hiveGone: link.closed,
    refused,
    close: () => closing ??= new Promise<void>((resolve) => {
      cleanup();
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/** A supervisor refusal as the CLI's exit codes would say it: no such node 404, a bad request 400, the rest 502. */
function supervisorError(c: Context, err: unknown) {
  if (err instanceof HiveError) {
    const status = err.code === 'NoSuchNode' ? 404 : err.code === 'InvalidArgs' ? 400 : err.code === 'NotAuthorized' ? 403 : 502;
    return c.json({ error: err.code, message: err.message }, status);
  }
  return c.json({ error: 'Failed', message: (err as Error).message }, 502);
}

async function listen(server: Server, spec: ListenSpec): Promise<void> {
  if (spec.kind === 'unix') {
    // Never over something that is there: it may be another program's socket, or a link.
    const there = await lstat(spec.path).then(() => true, () => false);
    if (there) throw new ListenError(`--listen unix:${spec.path}: something is there already; remove it first`);
  }
  // The socket is made 0600 from the start: nobody else may connect even for a moment.
  const umask = spec.kind === 'unix' ? process.umask(0o177) : undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      if (spec.kind === 'unix') server.listen(spec.path, () => resolve());
      else server.listen(spec.port, spec.host, () => resolve());
    });
  } catch (err) {
    throw new ListenError(`cannot listen on ${spec.kind === 'unix' ? `unix:${spec.path}` : `${spec.host}:${spec.port}`}: ${(err as Error).message}`);
  } finally {
    if (umask !== undefined) process.umask(umask);
  }
  if (spec.kind === 'unix') await chmod(spec.path, 0o600);
}
