// hive web (issue 20): the live view of the tree, as a separate process (dist/tree-supervisor/cli-web.js)
// on a running hive. Over raw HTTP: the token (none, wrong, in the address; the page an empty shell
// without it), the Host (DNS rebinding), methods, bodies, headers, unknown routes and actions, node
// names (watched on the bus: no supervisor call for a bad one), a foreign Origin's POST, a forged
// state signal, the bound on live pages — each refusal counted in /metrics and logged — and a unix
// socket. In process: the message feed's start/stop race and restart, and a page that does not
// read over a real socket. In Debian's chromium (puppeteer-core): the page draws the tree, still
// works after a reload and a second visit with the address bar clean, shows a node's log and its
// messages (markup in messages, log lines and errors drawn as text), turns red when its process
// is killed -9 and comes back, and its stop/start buttons change the hive as `hive tree` sees it;
// another server on 127.0.0.1 never receives the token. Last, the hive ends and hive web with it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import puppeteer, { type Browser } from 'puppeteer-core';
import { startHive, type TestHive } from '../helpers/hive.js';
import { DIST } from '../helpers/paths.js';
import { callBus, callWithDeadline, connectBus, Message, MessageType, type DBusMessage, type MessageBus } from '../../protocol/sdk/bus.js';
import { SUPERVISOR_INTERFACE, SUPERVISOR_PATH } from '../../protocol/names.js';
import { createLogger } from '../../protocol/logger.js';
import type { RuntimeInfo } from '../../tree-supervisor/runtime-file.js';
import { MessageFeed, type PageMessage } from '../../tree-supervisor/web/message-feed.js';
import { watchMessages, type MessageWatch } from '../../tree-supervisor/cli-tap.js';
import { startWeb as startWebInProcess } from '../../tree-supervisor/web/server.js';
import { sleep, waitFor } from '../helpers/wait.js';

const CHROMIUM = '/usr/bin/chromium';
const XSS_PATH = '/nonexistent/<img src=x onerror="window.pwned=1">';
const WEB = join(DIST, 'tree-supervisor/cli-web.js');

interface Web { proc: ResultPromise; url: string; token: string; port?: number; socket?: string; stderr: () => string; exited: Promise<number | undefined> }

async function startWeb(hive: TestHive, ...args: string[]): Promise<Web> {
  const proc = execa('node', [WEB, '--config', hive.configFile, '--json', ...args], { env: hive.env, reject: false, buffer: false });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  proc.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = proc.then((r) => r.exitCode);
  const line = await waitFor(() => out.split('\n').find((l) => l.startsWith('{')) ?? (proc.exitCode !== null ? Promise.reject(new Error(`hive web exited ${proc.exitCode}: ${err}`)) : undefined), { timeout: 15_000, what: () => `hive web's address (stderr: ${err})` });
  return { proc, exited, stderr: () => err, ...(JSON.parse(line) as { url: string; token: string; port?: number; socket?: string }) };
}

interface Reply { status: number; headers: Record<string, string | string[] | undefined>; body: string }

/** One request with exactly these headers (fetch would add and forbid some). */
function http(o: { port?: number; socketPath?: string; method?: string; path: string; headers?: Record<string, string>; body?: string }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: o.port, socketPath: o.socketPath, method: o.method ?? 'GET', path: o.path, headers: { Host: `127.0.0.1:${o.port ?? 80}`, ...o.headers }, setHost: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    if (o.body !== undefined) req.write(o.body);
    req.end();
  });
}

/** The supervisor calls made on the hive's bus while `during` runs, from a bus monitor. */
async function supervisorCalls(during: () => Promise<void>): Promise<{ member: string; body: unknown[]; sender?: string }[]> {
  const mon = await connectBus(runtime().bus_address);
  mon.addMethodHandler(() => true);
  const seen: { member: string; body: unknown[]; sender?: string }[] = [];
  mon.on('message', (m: DBusMessage) => { if (m.type === MessageType.METHOD_CALL && m.interface === SUPERVISOR_INTERFACE) seen.push({ member: m.member!, body: m.body, sender: m.sender }); });
  await callWithDeadline(mon, { destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus.Monitoring', member: 'BecomeMonitor', signature: 'asu', body: [[`type='method_call',interface='${SUPERVISOR_INTERFACE}'`], 0] }, 5000);
  try {
    await during();
    await sleep(200);
  } finally {
    mon.disconnect();
  }
  return seen;
}

const runtime = (): RuntimeInfo => JSON.parse(readFileSync(join(hive.dir, 'run', `${hive.instance}.json`), 'utf8')) as RuntimeInfo;

/** An event stream read as a script would: everything that arrived, as text. */
function readEvents(port: number, token: string): { text: () => string; close: () => void } {
  let text = '';
  const req = request({ host: '127.0.0.1', port, path: '/events', headers: { Authorization: `Bearer ${token}` } }, (res) => {
    res.setEncoding('utf8');
    res.on('data', (d: string) => { text += d; });
  });
  req.on('error', () => undefined);
  req.end();
  return { text: () => text, close: () => req.destroy() };
}

let hive: TestHive;
let web: Web;
let slow: Promise<{ afterMs: number; answer: string }>;
const bearer = () => ({ Authorization: `Bearer ${web.token}` });
const metric = async (series: string): Promise<number> => {
  const text = (await http({ port: web.port, path: '/metrics', headers: bearer() })).body;
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
};

beforeAll(async () => {
  // broken: a program that cannot start, whose path (in its error and its log) is markup.
  hive = await startHive({ networks: { console: { type: 'terminal', quiet_ms: 200 } }, plugins: [{ name: 'ping', use: 'ping' }, { name: 'echo', use: 'echo' }, { name: 'broken', exec: [XSS_PATH] }] });
  web = await startWeb(hive);
  // A client that never finishes its headers (slowloris), watched while the other tests run.
  const s = connect(web.port!, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: '));
  const since = Date.now();
  let answer = '';
  s.on('data', (d: Buffer) => { answer += d.toString(); });
  slow = new Promise((resolve) => s.on('close', () => resolve({ afterMs: Date.now() - since, answer })));
  s.on('error', () => undefined);
}, 60_000);
afterAll(async () => {
  web?.proc.kill('SIGTERM');
  await web?.exited;
  await hive?.stop();
});

describe('hive web over HTTP', () => {
  it('prints its address with a token in the fragment and listens on 127.0.0.1 only', () => {
    expect(web.url).toBe(`http://127.0.0.1:${web.port}/#token=${web.token}`);
    expect(web.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('serves the page as an empty shell without the token (no data, no cookie), and refuses everything else without it or with a wrong one', async () => {
    for (const path of ['/', `/?token=${web.token}`]) {
      const page = await http({ port: web.port, path });
      expect(page.status, path).toBe(200);
      expect(page.body).toContain('<svg id="tree"');
      // Nothing of the hive in it: not its name, not a node, not the token; and no cookie to leak.
      for (const secret of [hive.instance, 'ping', 'echo', web.token]) expect(page.body, secret).not.toContain(secret);
      expect(page.headers['set-cookie']).toBeUndefined();
      expect(page.headers['content-security-policy']).toMatch(/default-src 'none'; script-src 'nonce-[^']+'.*frame-ancestors 'none'/);
      expect(page.headers['cache-control']).toBe('no-store');
    }
    const none = await http({ port: web.port, path: '/api/tree' });
    expect(none.status).toBe(401);
    expect(JSON.parse(none.body)).toMatchObject({ error: 'no_token' });
    expect((await http({ port: web.port, path: '/api/tree?token=guess' })).status).toBe(401);
    expect((await http({ port: web.port, path: '/events', headers: { Authorization: 'Bearer guess' } })).status).toBe(401);
    expect((await http({ port: web.port, path: `/api/tree?token=${web.token}` })).status).toBe(200);
    expect(await metric('hive_web_refused_total{reason="no_token"}')).toBeGreaterThanOrEqual(1);
    expect(await metric('hive_web_refused_total{reason="bad_token"}')).toBeGreaterThanOrEqual(2);
  });

  it('refuses a foreign Host even with the token (DNS rebinding), other methods, bodies, huge headers and unknown routes', async () => {
    const before = await metric('hive_web_refused_total{reason="bad_host"}');
    expect((await http({ port: web.port, path: '/api/tree', headers: { ...bearer(), Host: `evil.example:${web.port}` } })).status).toBe(403);
    expect(await metric('hive_web_refused_total{reason="bad_host"}')).toBe(before + 1);
    for (const method of ['PUT', 'DELETE', 'OPTIONS']) expect((await http({ port: web.port, method, path: '/api/nodes/ping/stop', headers: bearer() })).status, method).toBe(405);
    expect((await http({ port: web.port, method: 'POST', path: '/api/nodes/ping/stop', headers: { ...bearer(), 'Content-Type': 'application/json' }, body: '{"x":1}' })).status).toBe(413);
    expect((await http({ port: web.port, path: '/api/tree', headers: { ...bearer(), 'X-Junk': 'x'.repeat(16_000) } })).status).toBe(431);
    expect((await http({ port: web.port, path: '/etc/passwd', headers: bearer() })).status).toBe(404);
    // Names an object has of its own (a plain object of actions would find them) are no actions.
    for (const action of ['explode', '__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      const r = await http({ port: web.port, method: 'POST', path: `/api/nodes/ping/${action}`, headers: bearer() });
      expect(r.status, action).toBe(404);
      expect(JSON.parse(r.body), action).toMatchObject({ error: 'not_found' });
    }
    expect(await metric('hive_web_refused_total{reason="bad_method"}')).toBe(3);
    expect(await metric('hive_web_refused_total{reason="too_large"}')).toBe(1);
    expect(await metric('hive_web_refused_total{reason="not_found"}')).toBe(6);
    // Refusals are logged (rate-limited), with the reason.
    await waitFor(() => web.stderr().includes('"reason":"bad_method"') && web.stderr().includes('web request refused'), { what: 'the refusal in the log' });
    expect((await hive.node('ping')).state).toBe('running');
  });

  it('checks a node name before any supervisor call, and answers an unknown node 404', async () => {
    const bad = await supervisorCalls(async () => {
      for (const name of ['bad%21name', 'x'.repeat(65), '9lives', '..%2F..', '%00']) {
        const r = await http({ port: web.port, method: 'POST', path: `/api/nodes/${name}/stop`, headers: bearer() });
        expect(r.status, name).toBe(400);
        expect((await http({ port: web.port, path: `/api/nodes/${name}/logs`, headers: bearer() })).status, name).toBe(400);
      }
    });
    expect(bad.filter((c) => c.member !== 'Tree')).toEqual([]);
    expect(await metric('hive_web_refused_total{reason="bad_node"}')).toBe(10);
    // The monitor does see the calls a good name makes: the check above can fail.
    const good = await supervisorCalls(async () => {
      const unknown = await http({ port: web.port, method: 'POST', path: '/api/nodes/nosuch/stop', headers: bearer() });
      expect(unknown.status).toBe(404);
      expect(JSON.parse(unknown.body)).toMatchObject({ error: 'NoSuchNode' });
      expect((await http({ port: web.port, path: '/api/nodes/nosuch/logs', headers: bearer() })).status).toBe(404);
    });
    expect(good.filter((c) => c.member !== 'Tree').map(({ member, body }) => ({ member, body }))).toEqual([{ member: 'Stop', body: ['nosuch'] }, { member: 'Logs', body: ['nosuch', 100] }]);
  });

  it('refuses a POST from another origin (CSRF) or with the token in the address only; the node keeps running', async () => {
    const foreign = await http({ port: web.port, method: 'POST', path: '/api/nodes/ping/stop', headers: { ...bearer(), Origin: 'http://evil.example' } });
    expect(foreign.status).toBe(403);
    expect(JSON.parse(foreign.body)).toMatchObject({ error: 'bad_origin' });
    const other = await http({ port: web.port, method: 'POST', path: '/api/nodes/ping/stop', headers: { ...bearer(), Origin: 'http://127.0.0.1:1' } });
    expect(other.status).toBe(403);
    expect(await metric('hive_web_refused_total{reason="bad_origin"}')).toBe(2);
    // What a form can send: the token in the address, with this very Origin or none.
    const noTokenBefore = await metric('hive_web_refused_total{reason="no_token"}');
    for (const origin of [`http://127.0.0.1:${web.port}`, undefined]) {
      const r = await http({ port: web.port, method: 'POST', path: `/api/nodes/ping/stop?token=${web.token}`, headers: origin ? { Origin: origin } : {} });
      expect(r.status).toBe(401);
    }
    expect(await metric('hive_web_refused_total{reason="no_token"}')).toBe(noTokenBefore + 2);
    await sleep(300);
    expect((await hive.node('ping')).state).toBe('running');
  });

  it('ignores a NodeStateChanged sent straight to it by another bus peer (counted), and shows the supervisor\'s', { timeout: 20_000 }, async () => {
    const events = readEvents(web.port!, web.token);
    const peer = await connectBus(runtime().bus_address);
    try {
      await waitFor(() => events.text().includes('event: tree'), { what: 'the first tree on the stream' });
      // hive web's own connections, found by their pid.
      const names = (await callBus(peer, 'ListNames', '', [])).body[0] as string[];
      const ours: string[] = [];
      for (const n of names.filter((x) => x.startsWith(':'))) {
        const pid = await callBus(peer, 'GetConnectionUnixProcessID', 's', [n]).then((r) => Number(r.body[0]), () => 0);
        if (pid === web.proc.pid) ours.push(n);
      }
      expect(ours.length).toBeGreaterThanOrEqual(1);
      for (const destination of ours) {
        (peer as MessageBus).send(new Message({ type: MessageType.SIGNAL, destination, path: SUPERVISOR_PATH, interface: SUPERVISOR_INTERFACE, member: 'NodeStateChanged', signature: 'ss', body: ['ping', 'forged'] }));
      }
      await waitFor(async () => (await metric('hive_web_refused_total{reason="forged_signal"}')) >= 1, { what: 'the forged signal counted' });
      // A real change still shows.
      expect((await hive.cli('restart', 'echo', '--config', hive.configFile)).exitCode).toBe(0);
      await waitFor(() => /event: state\ndata: \{"node":"echo"/.test(events.text()), { what: 'echo\'s state on the stream' });
      expect(events.text()).not.toContain('forged');
    } finally {
      events.close();
      peer.disconnect();
    }
  });

  it('serves at most 16 live pages at once and refuses the 17th (503), counted', async () => {
    const open = await Promise.all(Array.from({ length: 16 }, () => new Promise<import('node:http').ClientRequest>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: web.port, path: '/events', headers: bearer() }, (res) => { expect(res.statusCode).toBe(200); resolve(req); });
      req.on('error', reject);
      req.end();
    })));
    try {
      await waitFor(async () => (await metric('hive_web_sse_clients')) === 16, { what: '16 live pages' });
      // What 16 pages and their message panel cost the supervisor: the one Tree a second, on hive
      // web's one connection (the panel names nodes from it; no connection or call of its own).
      const calls = await supervisorCalls(() => sleep(3_100));
      expect(calls.every((c) => c.member === 'Tree'), JSON.stringify(calls)).toBe(true);
      expect(calls.length).toBeGreaterThanOrEqual(2);
      expect(calls.length).toBeLessThanOrEqual(5);
      expect(new Set(calls.map((c) => c.sender)).size).toBe(1);
      const more = await http({ port: web.port, path: '/events', headers: bearer() });
      expect(more.status).toBe(503);
      expect(await metric('hive_web_refused_total{reason="too_many_pages"}')).toBe(1);
    } finally {
      for (const r of open) r.destroy();
    }
    await waitFor(async () => (await metric('hive_web_sse_clients')) === 0, { what: 'the pages to be gone' });
  });

  it('takes at most 64 connections at once; the ones beyond are dropped and counted', async () => {
    const sockets = await Promise.all(Array.from({ length: 72 }, () => new Promise<Socket>((resolve, reject) => {
      const s = connect(web.port!, '127.0.0.1', () => resolve(s));
      s.on('error', reject);
    })));
    try {
      await waitFor(() => sockets.filter((s) => s.readyState === 'closed' || s.destroyed || !s.readable).length >= 8, { what: 'the connections beyond 64 to be dropped' });
    } finally {
      for (const s of sockets) s.destroy();
    }
    expect(await metric('hive_web_refused_total{reason="too_many_connections"}')).toBeGreaterThanOrEqual(8);
  });

  it('listens on a unix socket of mode 0600 instead, and refuses a path that exists or an address off loopback', async () => {
    const socket = join(hive.dir, 'web.sock');
    const u = await startWeb(hive, '--listen', `unix:${socket}`);
    try {
      expect(u.socket).toBe(socket);
      expect(statSync(socket).mode & 0o777).toBe(0o600);
      const tree = await http({ socketPath: socket, path: '/api/tree', headers: { Host: 'localhost:8080', Authorization: `Bearer ${u.token}` } });
      expect(tree.status).toBe(200);
      expect((JSON.parse(tree.body) as { nodes: unknown[] }).nodes).toHaveLength(4);
      expect((await http({ socketPath: socket, path: '/api/tree', headers: { Host: 'localhost:8080' } })).status).toBe(401);
      const again = await execa('node', [WEB, '--config', hive.configFile, '--listen', `unix:${socket}`], { env: hive.env, reject: false, timeout: 15_000 });
      expect(again.exitCode).toBe(1);
      expect(again.stderr).toMatch(/something is there already/);
    } finally {
      u.proc.kill('SIGTERM');
      expect(await u.exited).toBe(0);
    }
    expect(existsSync(socket)).toBe(false);
    const wide = await execa('node', [WEB, '--config', hive.configFile, '--listen', '0.0.0.0:8080'], { env: hive.env, reject: false, timeout: 15_000 });
    expect(wide.exitCode).toBe(2);
    expect(wide.stderr).toMatch(/only a loopback address/);
  });

});

describe('the message feed and a page that does not read (in process, on the same hive)', () => {
  it('keeps its monitor for a page that came while another left during the start, stops it with the last, and starts it again when it drops', { timeout: 20_000 }, async () => {
    const got: PageMessage[] = [];
    const watches: MessageWatch[] = [];
    const feed = new MessageFeed({
      info: runtime(), log: createLogger({ node: 'test-web', level: 'silent' }), perSecond: 200, each: (m) => got.push(m), retryMs: 100,
      watcher: async (...args) => { const w = await watchMessages(...args); watches.push(w); return w; },
    });
    try {
      // Page A comes and goes while the monitor starts; page B comes meanwhile.
      feed.acquire();
      feed.release();
      feed.acquire();
      await waitFor(() => feed.running, { what: 'the monitor running for page B' });
      await sleep(300);
      expect(feed.running).toBe(true);
      expect(feed.starts).toBe(1);
      hive.say('!ping');
      await waitFor(() => got.some((m) => m.lines.some((l) => l.includes('pong'))), { what: 'pong through the feed' });
      // The monitor's connection ends under it: started again while the page is there.
      watches[0]!.stop();
      await waitFor(() => feed.starts === 2 && feed.running, { what: 'the monitor started again' });
      got.length = 0;
      hive.say('!ping');
      await waitFor(() => got.some((m) => m.lines.some((l) => l.includes('pong'))), { what: 'pong through the restarted feed' });
      // The last page leaves: the monitor stops, and is not started again.
      const closed = watches[1]!.closed;
      feed.release();
      await closed;
      await sleep(300);
      expect([feed.running, feed.starts]).toEqual([false, 2]);
    } finally {
      feed.close();
    }
  });

  it('cuts off a page that does not read its events over a real socket (slow_page), and serves the others meanwhile', { timeout: 30_000 }, async () => {
    const socket = join(hive.dir, 'slow.sock');
    const server = await startWebInProcess(runtime(), { listen: { kind: 'unix', path: socket }, log: createLogger({ node: 'test-web', level: 'silent' }), treeEveryMs: 5, maxPending: 8 });
    const metricOf = async (w: typeof server): Promise<{ sse: number }> => {
      const text = (await http({ socketPath: socket, path: '/metrics', headers: { Host: 'localhost', Authorization: `Bearer ${w.token}` } })).body;
      return { sse: Number(/^hive_web_sse_clients (\d+)$/m.exec(text)?.[1]) };
    };
    try {
      const s = connect(socket);
      let closed = false;
      s.on('close', () => { closed = true; });
      s.on('error', () => undefined);
      await new Promise<void>((r) => s.once('connect', () => r()));
      s.write(`GET /events HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${server.token}\r\n\r\n`);
      // Never read again: the kernel's buffers fill, then the events wait in hive web.
      s.once('data', () => s.pause());
      const started = Date.now();
      await waitFor(() => (server.refused.slow_page ?? 0) >= 1, { timeout: 25_000, interval: 50, what: 'the page that does not read cut off' });
      process.stdout.write(`slow page cut off after ${Date.now() - started} ms\n`);
      // Read again: what was in the buffers comes, then the end (a page still served would get
      // a tree every 5 ms for ever).
      s.resume();
      await waitFor(() => closed, { what: 'its connection closed' });
      expect(await metricOf(server)).toMatchObject({ sse: 0 });
      const tree = await http({ socketPath: socket, path: '/api/tree', headers: { Host: 'localhost', Authorization: `Bearer ${server.token}` } });
      expect(tree.status).toBe(200);
    } finally {
      await server.close();
    }
  });
});

describe('hive web in a browser (Debian chromium)', () => {
  let browser: Browser;
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run sudo scripts/install-system-deps (Debian package chromium)`);
    browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  }, 30_000);
  afterAll(async () => { await browser?.close(); });

  it('draws the tree, shows a node\'s log and messages, goes red on kill -9 and back, and its buttons stop and start a node', { timeout: 45_000 }, async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push((e as Error).message));
    await page.goto(web.url);
    expect(page.url()).toBe(`http://127.0.0.1:${web.port}/`);
    await page.waitForSelector('g.node[data-node="ping"][data-state="running"]', { timeout: 5000 });
    const drawn = await page.$$eval('g.node', (gs) => gs.map((g) => `${g.getAttribute('data-node')}:${g.getAttribute('data-state')}`).sort());
    expect(drawn).toEqual(['broken:failed', 'echo:running', 'mouth:running', 'ping:running']);
    // The token left the address for this tab's sessionStorage, and the page works after a reload
    // and a second visit of the printed address (which leaves the address bar clean again).
    expect(await page.evaluate(() => [location.href, sessionStorage.getItem('hive-web-token'), document.cookie])).toEqual([`http://127.0.0.1:${web.port}/`, web.token, '']);
    for (const again of [() => page.reload(), () => page.goto(web.url)]) {
      await again();
      await page.waitForSelector('g.node[data-node="ping"][data-state="running"]', { timeout: 5000 });
      await page.waitForFunction(() => document.getElementById('conn')!.textContent === 'live', { timeout: 5000 });
      expect(page.url()).toBe(`http://127.0.0.1:${web.port}/`);
    }
    const pid = (await hive.node('ping')).pid!;
    expect(await page.$eval('g.node[data-node="ping"]', (g) => g.textContent)).toContain(`pid ${pid}`);

    // No node selected, no buttons; select ping: its buttons, its log and the messages through it.
    expect(await page.$eval('#actions', (a) => getComputedStyle(a).display)).toBe('none');
    await page.click('g.node[data-node="ping"]');
    await page.waitForFunction(() => document.querySelectorAll('#logs li').length > 0, { timeout: 5000 });
    expect(await page.$eval('#actions', (a) => getComputedStyle(a).display)).toBe('flex');
    expect(await page.$eval('#logs', (l) => l.textContent)).toMatch(/attached to parent|node started/);
    hive.say('!ping');
    await page.waitForFunction(() => [...document.querySelectorAll('#messages li.up')].some((li) => li.textContent!.includes('pong')), { timeout: 5000 });
    expect(await page.$eval('#messages', (l) => l.textContent)).toContain('!ping');
    // What users say is drawn as text, never markup.
    await page.click('g.node[data-node="echo"]');
    hive.say('!echo <img src=x onerror="window.pwned=1"><b>bold</b>');
    await page.waitForFunction(() => [...document.querySelectorAll('#messages li.up')].some((li) => li.textContent!.includes('<b>bold</b>')), { timeout: 5000 });
    expect(await page.evaluate(() => [document.querySelectorAll('#messages img, #messages b').length, (window as unknown as { pwned?: number }).pwned ?? 0])).toEqual([0, 0]);
    // Nor is a log line or an error: broken's path is markup, in its error, its log and a refusal.
    await page.click('g.node[data-node="broken"]');
    await page.waitForFunction(() => document.getElementById('logs')!.textContent!.includes('<img src=x'), { timeout: 5000 });
    expect(await page.$eval('#details', (d) => d.textContent)).toContain('<img src=x onerror="window.pwned=1">');
    await page.click('#actions button[data-action="start"]');
    await page.waitForFunction(() => /start/.test(document.getElementById('status')!.textContent!) && !document.getElementById('status')!.textContent!.endsWith('…'), { timeout: 5000 });
    await sleep(300);
    expect(await page.evaluate(() => [document.querySelectorAll('img, b').length, (window as unknown as { pwned?: number }).pwned ?? 0])).toEqual([0, 0]);
    await page.click('g.node[data-node="ping"]');

    // Every state the page shows for ping, as it shows it.
    await page.evaluate(() => {
      const w = window as unknown as { seen: string[] };
      w.seen = [];
      const note = () => {
        const g = document.querySelector('g.node[data-node="ping"]');
        const s = `${g?.getAttribute('data-state')}:${g ? getComputedStyle(g.querySelector('rect')!).fill : ''}`;
        if (w.seen[w.seen.length - 1] !== s) w.seen.push(s);
      };
      new MutationObserver(note).observe(document.getElementById('tree')!, { subtree: true, attributes: true, childList: true });
    });
    process.kill(pid, 'SIGKILL');
    await page.waitForFunction((old: number) => {
      const g = document.querySelector('g.node[data-node="ping"]');
      return g?.getAttribute('data-state') === 'running' && !g.textContent!.includes(`pid ${old}`);
    }, { timeout: 10_000 }, pid);
    const seen = await page.evaluate(() => (window as unknown as { seen: string[] }).seen);
    expect(seen.some((s) => /^(restarting|failed):rgb\(239, 83, 80\)$/.test(s)), seen.join(' ')).toBe(true);
    const back = await hive.node('ping');
    expect(back.state).toBe('running');
    expect(back.restarts).toBe(1);
    expect(await page.$eval('g.node[data-node="ping"]', (g) => g.textContent)).toContain(`pid ${back.pid}`);

    // The buttons: stop, then start.
    await page.click('#actions button[data-action="stop"]');
    await page.waitForSelector('g.node[data-node="ping"][data-state="stopped"]', { timeout: 10_000 });
    expect((await hive.node('ping')).state).toBe('stopped');
    expect(await page.$eval('#status', (s) => s.textContent)).toBe('stop: ping');
    await page.click('#actions button[data-action="start"]');
    await page.waitForSelector('g.node[data-node="ping"][data-state="running"]', { timeout: 10_000 });
    expect((await hive.node('ping')).state).toBe('running');

    // A supervisor that does not answer (stopped for 4.5 s): the page asks for the log again only
    // once the last answer came, so it does not pile up requests (every 2 s it would be 2 or 3).
    const logAsks: string[] = [];
    const onRequest = (r: { url: () => string }) => { if (r.url().includes('/logs')) logAsks.push(r.url()); };
    page.on('request', onRequest);
    await sleep(2_100); // one ask answered, the next due
    logAsks.length = 0;
    process.kill(runtime().pid, 'SIGSTOP');
    try {
      await sleep(4_500);
    } finally {
      process.kill(runtime().pid, 'SIGCONT');
    }
    page.off('request', onRequest);
    expect(logAsks.length).toBeLessThanOrEqual(1);
    await page.waitForSelector('g.node[data-node="ping"][data-state="running"]', { timeout: 10_000 });

    expect(errors).toEqual([]);
    await page.close();
  });

  it('another server on 127.0.0.1 never receives the token, and its page cannot drive the buttons', { timeout: 15_000 }, async () => {
    // Another site on this machine (127.0.0.1, another port: the same site to the browser, which
    // would send it any cookie of ours). It records everything it is sent; its page reports
    // whatever of ours it can see (cookies, storage) and tries a POST to the hive.
    const received: string[] = [];
    const evil = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => { body += d.toString(); });
      req.on('end', () => {
        received.push(`${req.method} ${req.url}\n${JSON.stringify(req.headers)}\n${body}`);
        res.setHeader('Content-Type', 'text/html');
        res.end('<p>elsewhere</p>');
      });
    });
    await new Promise<void>((r) => evil.listen(0, '127.0.0.1', () => r()));
    const evilPort = (evil.address() as AddressInfo).port;
    try {
      const page = await browser.newPage();
      await page.goto(web.url);
      await page.waitForFunction(() => document.getElementById('conn')!.textContent === 'live', { timeout: 5000 });
      await page.goto(`http://127.0.0.1:${evilPort}/`);
      const before = await metric('hive_web_refused_total{reason="no_token"}');
      const type = await page.evaluate(async (port: number) => {
        const seen = JSON.stringify({ cookie: document.cookie, session: { ...sessionStorage }, local: { ...localStorage } });
        await fetch('/report', { method: 'POST', body: seen });
        const r = await fetch(`http://127.0.0.1:${port}/api/nodes/echo/stop`, { method: 'POST', credentials: 'include', mode: 'no-cors' });
        return r.type;
      }, web.port!);
      expect(type).toBe('opaque');
      expect(await metric('hive_web_refused_total{reason="no_token"}')).toBe(before + 1);
      await sleep(300);
      expect((await hive.node('echo')).state).toBe('running');
      // It did get requests (the page, the report): the check below looks at something.
      expect(received.some((r) => r.startsWith('POST /report'))).toBe(true);
      const all = received.join('\n');
      expect(all).not.toContain(web.token);
      expect(all).not.toContain(encodeURIComponent(web.token));
      expect(all).not.toMatch(/hive_web_|hive-web-token|authorization/i);
      await page.close();
    } finally {
      evil.close();
    }
  });

  it('a new tab without the token says so and asks nothing of the hive', { timeout: 10_000 }, async () => {
    const page = await browser.newPage();
    const before = await metric('hive_web_refused_total{reason="no_token"}');
    await page.goto(`http://127.0.0.1:${web.port}/`);
    await page.waitForFunction(() => /no token/.test(document.getElementById('conn')!.textContent!), { timeout: 5000 });
    expect(await page.$$('g.node')).toHaveLength(0);
    expect(await metric('hive_web_refused_total{reason="no_token"}')).toBe(before);
    await page.close();
  });
});

describe('a slow client', () => {
  it('drops a client that does not finish its headers within 5 s (408)', async () => {
    const { afterMs, answer } = await slow;
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(afterMs).toBeGreaterThanOrEqual(4_900);
    expect(afterMs).toBeLessThan(10_000);
  });
});

describe('when the hive ends', () => {
  it('hive web ends too, with exit 1 and a line saying so', { timeout: 30_000 }, async () => {
    await hive.stop();
    expect(await web.exited).toBe(1);
    expect(web.stderr()).toContain(`hive web: the hive '${hive.instance}' ended`);
  });
});
