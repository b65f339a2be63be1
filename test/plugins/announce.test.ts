// announce through a real tree: HTTP requests to the plugin make the bot speak on ngIRCd (seen by
// a raw client in the channel) and on the terminal; each refusal has its status and JSON body,
// and nothing of a refused request reaches the wire or the terminal.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHive, type TestHive } from '../helpers/hive.js';
import { startNgircd, type Ircd } from '../helpers/ircd.js';
import { connectClient, type IrcTestClient } from '../helpers/irc-client.js';
import { sleep } from '../helpers/wait.js';
import { botJoined, expectPrivmsg, ircNetwork, privmsgsFrom } from '../mouth/util.js';

const TOKEN = 'test-token-0123456789abcdef';

let ircd: Ircd;
let hive: TestHive;
let alice: IrcTestClient;
let base: string;
let tightBase: string;

async function portOf(h: TestHive, node: string): Promise<number> {
  const l = await h.waitForLog((x) => x.node === node && x.msg === 'listening');
  expect(l.host).toBe('127.0.0.1');
  return l.port as number;
}

function post(url: string, body: unknown, opts: { token?: string | null; raw?: string; method?: string; path?: string } = {}): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const token = opts.token === undefined ? TOKEN : opts.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  return fetch(url + (opts.path ?? '/announce'), {
    method: opts.method ?? 'POST',
    headers,
    body: (opts.method ?? 'POST') === 'GET' ? undefined : opts.raw ?? JSON.stringify(body),
  });
}

async function json(res: Response): Promise<Record<string, unknown>> {
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return (await res.json()) as Record<string, unknown>;
}

beforeAll(async () => {
  ircd = await startNgircd();
  alice = await connectClient({ host: ircd.host, port: ircd.port, nick: 'alice' });
  await alice.join('#one');
  hive = await startHive({
    networks: { net: ircNetwork(ircd), console: { type: 'terminal', quiet_ms: 200 } },
    plugins: [
      { name: 'ann', use: 'announce', config: { port: 0, token: TOKEN, rate: { burst: 100, per_s: 100 }, max_body: 4096 } },
      { name: 'tight', use: 'announce', config: { port: 0, token: TOKEN, rate: { burst: 2, per_s: 0.05 } } },
    ],
  });
  await botJoined(alice, 'hivebot', '#one', { since: 0 });
  base = `http://127.0.0.1:${await portOf(hive, 'ann')}`;
  tightBase = `http://127.0.0.1:${await portOf(hive, 'tight')}`;
}, 60_000);

afterAll(async () => {
  alice?.close();
  await hive?.stop();
  await ircd?.stop();
});

describe('announce', () => {
  it('says the text on IRC (several lines, in order) and on the terminal, answering 200 after the mouth took it', async () => {
    const since = alice.mark();
    const res = await post(base, { network: 'net', target: '#one', text: 'deploy finished\nall green' });
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ ok: true, lines: 2 });
    await expectPrivmsg(alice, 'hivebot', '#one', 'all green', { since });
    expect(privmsgsFrom(alice, 'hivebot', '#one', since).map((l) => l.params[1])).toEqual(['deploy finished', 'all green']);

    const mark = hive.stdout.length;
    const t = await post(base, { network: 'console', target: '#console', text: 'hello terminal\r\n\r\nsecond line\n' });
    expect(t.status).toBe(200);
    expect(await json(t)).toEqual({ ok: true, lines: 2 });
    await hive.expectOutput('second line', { since: mark });
    expect(hive.stdout.slice(mark)).toEqual(['hello terminal', 'second line']);
  });

  it('refuses with the right status and a JSON reason, and sends nothing of a refused request', async () => {
    const ircSince = alice.mark();
    const termSince = hive.stdout.length;
    const good = { network: 'net', target: '#one' };

    let res = await post(base, { ...good, text: 'LEAK-404' }, { path: '/nope' });
    expect(res.status).toBe(404);
    expect(await json(res)).toMatchObject({ ok: false, error: 'NotFound' });

    res = await post(base, undefined, { method: 'GET' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    expect(await json(res)).toMatchObject({ ok: false, error: 'MethodNotAllowed' });

    res = await post(base, { ...good, text: 'LEAK-401-missing' }, { token: null });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await json(res)).toEqual({ ok: false, error: 'Unauthorized', message: 'missing or wrong bearer token' });
    res = await post(base, { ...good, text: 'LEAK-401-wrong' }, { token: TOKEN.slice(0, -1) + 'X' });
    expect(res.status).toBe(401);
    res = await post(base, { ...good, text: 'LEAK-401-longer' }, { token: TOKEN + 'X' });
    expect(res.status).toBe(401);

    res = await post(base, undefined, { raw: '{"network": "net", "target": "#one", "text": "LEAK-400-json"' });
    expect(res.status).toBe(400);
    expect(await json(res)).toMatchObject({ ok: false, error: 'BadRequest', message: expect.stringMatching(/^the body is not JSON/) });

    res = await post(base, { network: 'net', target: '#one' });
    expect(res.status).toBe(400);
    const missing = await json(res);
    expect(missing).toMatchObject({ ok: false, error: 'BadRequest' });
    expect(missing.issues).toEqual([{ path: 'text', message: expect.any(String) }]);
    expect(missing.message).toMatch(/^text: /);

    res = await post(base, { ...good, target: '#one,#two', text: 'LEAK-400-target' });
    expect(res.status).toBe(400);
    expect(await json(res)).toMatchObject({ issues: [{ path: 'target', message: 'must be one channel or nick, without spaces or commas' }] });

    res = await post(base, { ...good, text: 'LEAK-400-cr\rQUIT :bye' });
    expect(res.status).toBe(400);
    expect(await json(res)).toMatchObject({ issues: [{ path: 'text', message: 'must not contain NUL or a lone CR' }] });

    res = await post(base, { ...good, text: 'LEAK-400-extra', channel: '#one' });
    expect(res.status).toBe(400);
    expect((await json(res)).message).toMatch(/channel/);

    res = await post(base, { ...good, text: Array.from({ length: 11 }, (_, i) => `LEAK-400-lines ${i}`).join('\n') });
    expect(res.status).toBe(400);
    expect(await json(res)).toMatchObject({ message: 'text: must have at most 10 lines' });

    res = await post(base, { ...good, text: `LEAK-413 ${'x'.repeat(300_000)}` });
    expect(res.status).toBe(413);
    expect(await json(res)).toMatchObject({ ok: false, error: 'PayloadTooLarge', message: 'the body may have at most 4096 bytes' });

    // The same without a Content-Length (chunked): counted while it is read.
    const chunks = [`{"network":"net","target":"#one","text":"LEAK-413-chunked `, 'y'.repeat(3000), 'y'.repeat(3000), '"}'];
    const stream = new ReadableStream<Uint8Array>({
      pull(c) { const next = chunks.shift(); if (next === undefined) c.close(); else c.enqueue(new TextEncoder().encode(next)); },
    });
    res = await fetch(base + '/announce', { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: stream, duplex: 'half' } as RequestInit);
    expect(res.status).toBe(413);

    // A network the mouth does not have: its refusal, by name; nothing goes anywhere.
    res = await post(base, { network: 'nosuch', target: '#one', text: 'LEAK-422' });
    expect(res.status).toBe(422);
    const unknown = await json(res);
    expect(unknown).toMatchObject({ ok: false, error: 'NetworkUnknown' });
    expect(unknown.message).toMatch(/nosuch/);

    // The rate limit: the burst of 2 passes, the third is refused with Retry-After.
    const tightTerm = hive.stdout.length;
    for (const n of [1, 2]) expect((await post(tightBase, { network: 'console', target: '#console', text: `tight ${n}` })).status).toBe(200);
    res = await post(tightBase, { network: 'console', target: '#console', text: 'LEAK-429' });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await json(res)).toMatchObject({ ok: false, error: 'TooManyRequests' });
    // A wrong token is refused before the rate limit is consulted.
    expect((await post(tightBase, { network: 'console', target: '#console', text: 'LEAK-401-tight' }, { token: 'wrong-token-but-long-enough' })).status).toBe(401);
    await hive.expectOutput('tight 2', { since: tightTerm });

    // A last good message on each network: once it is there, anything sent before would be too.
    const irc = await post(base, { ...good, text: 'sentinel irc' });
    expect(irc.status).toBe(200);
    const term = await post(base, { network: 'console', target: '#console', text: 'sentinel terminal' });
    expect(term.status).toBe(200);
    await expectPrivmsg(alice, 'hivebot', '#one', 'sentinel irc', { since: ircSince });
    await hive.expectOutput('sentinel terminal', { since: termSince });
    await sleep(300);
    const wire = alice.lines.slice(ircSince).map((l) => l.raw);
    expect(wire.filter((l) => l.includes('LEAK') || /QUIT/.test(l))).toEqual([]);
    expect(privmsgsFrom(alice, 'hivebot', '#one', ircSince).map((l) => l.params[1])).toEqual(['sentinel irc']);
    expect(hive.stdout.slice(termSince)).toEqual(['tight 1', 'tight 2', 'sentinel terminal']);
    // The plugins never crashed on any of it.
    const tree = await hive.tree();
    expect(tree.filter((n) => n.name === 'ann' || n.name === 'tight').map((n) => [n.name, n.state, n.restarts])).toEqual([['ann', 'running', 0], ['tight', 'running', 0]]);
  });
});

describe('announce config', () => {
  it('refuses a short token and a missing port at start, saying which key is wrong', async () => {
    await hive.cli('load', '--config', hive.configFile, '--name', 'bad', '--use', 'announce', '--plugin-config', JSON.stringify({ token: 'short' }));
    const refused = await hive.waitForLog((l) => l.node === 'bad' && typeof l.msg === 'string' && l.msg.startsWith('bad plugin config'));
    expect(refused.msg).toMatch(/config\.port: /);
    expect(refused.msg).toMatch(/config\.token: the token must have at least 16 characters/);
    await hive.waitForLog((l) => l.child === 'bad' && l.msg === 'node refused its configuration (exit 2); not restarting until the config is fixed');
    expect((await hive.node('bad')).state).toBe('failed');
  });
});
