// hive web (issue 20): the live view of the tree, as a separate process (dist/tree-supervisor/cli-web.js)
// on a running hive. Over raw HTTP: the token (none, wrong, in the address, then a cookie), the Host
// (DNS rebinding), methods, bodies, headers, unknown routes, node names, a foreign Origin's POST, the
// bound on live pages — each refusal counted in /metrics and logged — and a unix socket. In Debian's
// chromium (puppeteer-core): the page draws the tree, shows a node's log and its messages, turns
// red when its process is killed -9 and comes back, and its stop/start buttons change the hive as
// `hive tree` sees it. Last, the hive ends and hive web with it (exit 1).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, statSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import puppeteer, { type Browser } from 'puppeteer-core';
import { startHive, type TestHive } from '../helpers/hive.js';
import { DIST } from '../helpers/paths.js';
import { sleep, waitFor } from '../helpers/wait.js';

const CHROMIUM = '/usr/bin/chromium';
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
  hive = await startHive({ networks: { console: { type: 'terminal', quiet_ms: 200 } }, plugins: [{ name: 'ping', use: 'ping' }, { name: 'echo', use: 'echo' }] });
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
  it('prints its address with a token and listens on 127.0.0.1 only', () => {
    expect(web.url).toBe(`http://127.0.0.1:${web.port}/?token=${web.token}`);
    expect(web.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('refuses the page without the token or with a wrong one; the token in the address becomes a cookie and leaves the address', async () => {
    const none = await http({ port: web.port, path: '/' });
    expect(none.status).toBe(401);
    expect(none.body).not.toContain('<html');
    expect((await http({ port: web.port, path: '/?token=guess' })).status).toBe(401);
    const first = await http({ port: web.port, path: `/?token=${web.token}` });
    expect(first.status).toBe(303);
    expect(first.headers.location).toBe('/');
    const cookie = String(first.headers['set-cookie']);
    expect(cookie).toMatch(/^hive_web_[0-9a-f]{12}=[^;]+; Path=\/; HttpOnly; SameSite=Strict$/);
    const page = await http({ port: web.port, path: '/', headers: { Cookie: cookie.split(';')[0]! } });
    expect(page.status).toBe(200);
    expect(page.body).toContain('<svg id="tree"');
    expect(page.body).not.toContain(web.token);
    expect(page.headers['content-security-policy']).toMatch(/default-src 'none'; script-src 'nonce-[^']+'.*frame-ancestors 'none'/);
    expect(page.headers['cache-control']).toBe('no-store');
    expect(await metric('hive_web_refused_total{reason="no_token"}')).toBeGreaterThanOrEqual(1);
    expect(await metric('hive_web_refused_total{reason="bad_token"}')).toBeGreaterThanOrEqual(1);
  });

  it('refuses a foreign Host even with the token (DNS rebinding), other methods, bodies, huge headers and unknown routes', async () => {
    const before = await metric('hive_web_refused_total{reason="bad_host"}');
    expect((await http({ port: web.port, path: '/api/tree', headers: { ...bearer(), Host: `evil.example:${web.port}` } })).status).toBe(403);
    expect(await metric('hive_web_refused_total{reason="bad_host"}')).toBe(before + 1);
    for (const method of ['PUT', 'DELETE', 'OPTIONS']) expect((await http({ port: web.port, method, path: '/api/nodes/ping/stop', headers: bearer() })).status, method).toBe(405);
    expect((await http({ port: web.port, method: 'POST', path: '/api/nodes/ping/stop', headers: { ...bearer(), 'Content-Type': 'application/json' }, body: '{"x":1}' })).status).toBe(413);
    expect((await http({ port: web.port, path: '/api/tree', headers: { ...bearer(), 'X-Junk': 'x'.repeat(16_000) } })).status).toBe(431);
    expect((await http({ port: web.port, path: '/etc/passwd', headers: bearer() })).status).toBe(404);
    expect((await http({ port: web.port, method: 'POST', path: '/api/nodes/ping/explode', headers: bearer() })).status).toBe(404);
    expect(await metric('hive_web_refused_total{reason="bad_method"}')).toBe(3);
    expect(await metric('hive_web_refused_total{reason="too_large"}')).toBe(1);
    expect(await metric('hive_web_refused_total{reason="not_found"}')).toBe(2);
    // Refusals are logged (rate-limited), with the reason.
    await waitFor(() => web.stderr().includes('"reason":"bad_method"') && web.stderr().includes('web request refused'), { what: 'the refusal in the log' });
    expect((await hive.node('ping')).state).toBe('running');
  });

  it('checks a node name before any supervisor call, and answers an unknown node 404', async () => {
    for (const bad of ['bad%21name', 'x'.repeat(65), '9lives', '..%2F..', '%00']) {
      const r = await http({ port: web.port, method: 'POST', path: `/api/nodes/${bad}/stop`, headers: bearer() });
      expect(r.status, bad).toBe(400);
    }
    expect(await metric('hive_web_refused_total{reason="bad_node"}')).toBe(5);
    const unknown = await http({ port: web.port, method: 'POST', path: '/api/nodes/nosuch/stop', headers: bearer() });
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body)).toMatchObject({ error: 'NoSuchNode' });
    expect((await http({ port: web.port, path: '/api/nodes/nosuch/logs', headers: bearer() })).status).toBe(404);
  });

  it('refuses a POST from another origin (CSRF) or with the cookie but no Origin; the node keeps running', async () => {
    const cookie = String((await http({ port: web.port, path: `/?token=${web.token}` })).headers['set-cookie']).split(';')[0]!;
    const foreign = await http({ port: web.port, method: 'POST', path: '/api/nodes/ping/stop', headers: { Cookie: cookie, Origin: 'http://evil.example' } });
    expect(foreign.status).toBe(403);
    expect(JSON.parse(foreign.body)).toMatchObject({ error: 'bad_origin' });
    expect((await http({ port: web.port, method: 'POST', path: '/api/nodes/ping/stop', headers: { Cookie: cookie } })).status).toBe(403);
    expect(await metric('hive_web_refused_total{reason="bad_origin"}')).toBe(2);
    await sleep(300);
    expect((await hive.node('ping')).state).toBe('running');
  });

  it('serves at most 16 live pages at once and refuses the 17th (503), counted', async () => {
    const open = await Promise.all(Array.from({ length: 16 }, () => new Promise<import('node:http').ClientRequest>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: web.port, path: '/events', headers: bearer() }, (res) => { expect(res.statusCode).toBe(200); resolve(req); });
      req.on('error', reject);
      req.end();
    })));
    try {
      await waitFor(async () => (await metric('hive_web_sse_clients')) === 16, { what: '16 live pages' });
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
      expect((JSON.parse(tree.body) as { nodes: unknown[] }).nodes).toHaveLength(3);
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

describe('hive web in a browser (Debian chromium)', () => {
  let browser: Browser;
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run sudo scripts/install-system-deps (Debian package chromium)`);
    browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  }, 30_000);
  afterAll(async () => { await browser?.close(); });

  it('draws the tree, shows a node\'s log and messages, goes red on kill -9 and back, and its buttons stop and start a node', { timeout: 30_000 }, async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push((e as Error).message));
    await page.goto(web.url);
    expect(page.url()).toBe(`http://127.0.0.1:${web.port}/`);
    await page.waitForSelector('g.node[data-node="ping"][data-state="running"]', { timeout: 5000 });
    const drawn = await page.$$eval('g.node', (gs) => gs.map((g) => `${g.getAttribute('data-node')}:${g.getAttribute('data-state')}`).sort());
    expect(drawn).toEqual(['echo:running', 'mouth:running', 'ping:running']);
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

    expect(errors).toEqual([]);
    await page.close();
  });

  it('a page of another origin cannot drive the buttons: its POST is refused and nothing stops', { timeout: 15_000 }, async () => {
    // Another site on this machine (127.0.0.1, another port: the same site to the browser, so it even
    // sends the SameSite cookie); only the Origin check stands between it and the hive.
    const evil = createServer((_, res) => { res.setHeader('Content-Type', 'text/html'); res.end('<p>elsewhere</p>'); });
    await new Promise<void>((r) => evil.listen(0, '127.0.0.1', () => r()));
    try {
      const page = await browser.newPage();
      await page.goto(web.url);
      await page.goto(`http://127.0.0.1:${(evil.address() as AddressInfo).port}/`);
      const before = await metric('hive_web_refused_total{reason="bad_origin"}');
      const type = await page.evaluate(async (port: number) => {
        const r = await fetch(`http://127.0.0.1:${port}/api/nodes/echo/stop`, { method: 'POST', credentials: 'include', mode: 'no-cors' });
        return r.type;
      }, web.port!);
      expect(type).toBe('opaque');
      expect(await metric('hive_web_refused_total{reason="bad_origin"}')).toBe(before + 1);
      await sleep(300);
      expect((await hive.node('echo')).state).toBe('running');
      await page.close();
    } finally {
      evil.close();
    }
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
