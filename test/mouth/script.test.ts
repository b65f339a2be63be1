// The scripted network (type: script) on its raw socket: JSON lines in, an answer for each and
// the bot's lines out; and what a hostile or broken client gets: a refusal by name, counted, and
// a connection that goes on (a line too long, not JSON, not UTF-8, unknown keys, a second client).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { stringify } from 'yaml';
import { HIVE_BIN, startHive, type TestHive } from '../helpers/hive.js';
import { waitFor } from '../helpers/wait.js';
import { exec } from './util.js';
import { SCRIPT_LINE_MAX } from '../../mouth/script-network.js';

/** A raw client of the socket: what it reads, line by line, parsed. */
async function client(path: string) {
  const sock = net.connect(path);
  await new Promise<void>((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject); });
  const got: Record<string, unknown>[] = [];
  let buf = '';
  let ended = false;
  sock.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let nl = buf.indexOf('\n'); nl !== -1; nl = buf.indexOf('\n')) { got.push(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>); buf = buf.slice(nl + 1); }
  });
  sock.on('close', () => { ended = true; });
  sock.on('error', () => undefined);
  return {
    sock, got,
    get ended() { return ended; },
    write: (s: string | Buffer) => sock.write(s),
    /** The next answer (ok or error) after index `since`. */
    answer: (since: number) => waitFor(() => got.slice(since).find((m) => 'ok' in m || 'error' in m), { timeout: 10_000, what: 'an answer' }),
    sentLine: (pred: (m: Record<string, unknown>) => boolean) => waitFor(() => got.find((m) => 'sent' in m && pred(m)), { timeout: 10_000, what: 'a line the bot sent' }),
  };
}

describe('the scripted network', () => {
  let hive: TestHive;
  let dir: string;
  let path: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hive-script-'));
    path = join(dir, 's.sock');
    hive = await startHive({
      networks: { test: { type: 'script', socket: path, nick: 'bot', channel: '#here' } },
      plugins: [
        { name: 'ping', use: 'ping' }, { name: 'echo', use: 'echo' },
        // An echo whose lines come 400 ms late (a filter holds what says "slow"): for the backlog.
        { name: 'slow', exec: exec('slow-filter') }, { name: 'echo2', use: 'echo', parent: 'slow' },
      ],
    });
  }, 60_000);
  afterAll(async () => {
    await hive?.stop();
    await rm(dir, { recursive: true, force: true });
  });
  /** Closes a client and waits until the mouth has seen it go (else the next one would be the second). */
  const bye = async (c: Awaited<ReturnType<typeof client>>) => {
    const gone = () => hive.logs.filter((l) => l.msg === 'script client gone').length;
    const before = gone();
    c.sock.destroy();
    await waitFor(() => gone() > before, { timeout: 5000, what: 'the mouth to see the client go' });
  };

  it('speaks as a user, answers each request with its hive.id, and hands back each line the bot sends with its metadata', async () => {
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const c = await client(path);
    c.write('{"say": "!ping", "id": "a"}\n');
    const ok = await c.answer(0);
    expect(ok).toMatchObject({ ok: true, id: 'a', hive_id: expect.stringMatching(/^mouth-/) });
    const pong = await c.sentLine((m) => m.reply_to === ok.hive_id);
    expect(pong).toMatchObject({ sent: 'PRIVMSG #here :pong', command: 'PRIVMSG', target: '#here', text: 'pong', origin: 'ping', via: 'ping', last: true });
    expect(pong.meta).toMatchObject({ 'hive.network': 'test', 'hive.reply_to': ok.hive_id, 'hive.origin': 'ping', 'hive.path': ['ping'] });
    // In private (in: the bot's nick), as another user, a numeric id; the reply goes to the speaker.
    let n = c.got.length;
    c.write('{"say": "echo psst", "as": "bob", "in": "bot", "id": 7}\n');
    const priv = await c.answer(n);
    expect(priv).toMatchObject({ ok: true, id: 7 });
    expect(await c.sentLine((m) => m.reply_to === priv.hive_id)).toMatchObject({ sent: 'PRIVMSG bob :psst', target: 'bob' });
    // A raw line (CRLF is fine too), answered without an id when none was given.
    n = c.got.length;
    c.write('{"line": ":dave!d@example JOIN #here"}\r\n');
    expect(await c.answer(n)).toEqual({ ok: true, hive_id: expect.stringMatching(/^mouth-/) });
    await bye(c);
  });

  it('refuses what is not a request, by name, counts it, and goes on with the same connection', async () => {
    const mouth = async () => (await hive.node('mouth')).counters;
    const before = await mouth();
    const c = await client(path);
    const refused: [string | Buffer, string, string?][] = [
      ['not json\n', 'BadJson'],
      [Buffer.from([0x7b, 0x22, 0x73, 0x61, 0x79, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d, 0x0a]), 'BadJson', 'not valid UTF-8'],
      ['[1, 2]\n', 'BadRequest'],
      ['42\n', 'BadRequest'],
      ['{"say": "hi", "bogus": 1, "id": "k"}\n', 'BadRequest', 'bogus'],
      ['{"say": "hi", "line": "PING x"}\n', 'BadRequest', 'exactly one'],
      ['{"line": "PING x", "as": "bob"}\n', 'BadRequest', '"as" and "in"'],
      ['{"say": "hi", "as": "1bad nick"}\n', 'BadRequest', 'as'],
      ['{"say": "hi", "in": "someone"}\n', 'BadRequest', "the bot's nick"],
      ['{"say": "a\\r\\nQUIT"}\n', 'BadRequest', 'CR, LF and NUL'],
      ['{"line": "PRIVMSG"}\n', 'BadRequest', 'PRIVMSG needs'],
      [`{"say": "${'x'.repeat(9000)}"}\n`, 'BadRequest', 'at most 8704'],
      [`{"say": "${'x'.repeat(SCRIPT_LINE_MAX)}"}\n`, 'LineTooLong'],
    ];
    for (const [input, code, words] of refused) {
      const n = c.got.length;
      c.write(input);
      const a = await c.answer(n);
      expect(a, String(input).slice(0, 60)).toMatchObject({ error: code });
      if (words) expect(a.message).toContain(words);
    }
    expect(c.got.find((m) => m.message && String(m.message).includes('bogus'))).toMatchObject({ id: 'k' });
    // An endless line is refused before its end, once, and what follows its end is read again.
    let n = c.got.length;
    for (let i = 0; i < 4; i++) c.write('y'.repeat(SCRIPT_LINE_MAX / 2));
    await waitFor(() => c.got.length > n, { timeout: 10_000, what: 'the refusal of a line without end' });
    await new Promise((r) => setTimeout(r, 200));
    expect(c.got.slice(n)).toEqual([expect.objectContaining({ error: 'LineTooLong' })]);
    c.write('still the same line\n{"say": "!ping", "id": "after"}\n');
    n = c.got.length;
    expect(await c.answer(n)).toMatchObject({ ok: true, id: 'after' });
    expect(c.ended).toBe(false);
    const after = await mouth();
    expect(after['test.bad_requests']! - before['test.bad_requests']!).toBe(refused.length + 1);
    expect(after['test.requests']! - before['test.requests']!).toBe(1);
    await bye(c);
  });

  it('serves one client at a time: a second is answered Busy and closed; the first goes on', async () => {
    const first = await client(path);
    const second = await client(path);
    await waitFor(() => second.ended, { timeout: 5000, what: 'the second client closed' });
    expect(second.got).toEqual([{ error: 'Busy', message: expect.any(String) }]);
    first.write('{"say": "!ping", "id": 1}\n');
    expect(await first.answer(0)).toMatchObject({ ok: true, id: 1 });
    expect((await hive.node('mouth')).counters['test.clients_refused']).toBeGreaterThanOrEqual(1);
    // What the bot says while nobody is connected waits for the next client: echo2's answer comes
    // 400 ms after the request, well after the mouth has seen the client end.
    const gone = hive.logs.filter((l) => l.msg === 'script client gone').length;
    first.sock.end('{"say": "!echo slow, to nobody"}\n');
    await waitFor(() => hive.logs.filter((l) => l.msg === 'script client gone').length > gone, { timeout: 5000, what: 'the first client gone' });
    const third = await client(path);
    expect(await third.sentLine((m) => m.origin === 'echo2')).toMatchObject({ text: 'slow, to nobody', target: '#here' });
    third.sock.destroy();
  });
});

describe('the scripted network in the config', () => {
  it('wants an absolute socket path that fits a unix socket address', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hive-script-'));
    try {
      for (const socket of ['relative.sock', `/${'d'.repeat(120)}/s.sock`]) {
        const file = join(dir, 'hive.yaml');
        writeFileSync(file, stringify({ instance: 'scriptcfg', bus: 'private', networks: { test: { type: 'script', socket } }, plugins: [] }));
        const r = await execa(HIVE_BIN, ['up', '--config', file], { reject: false, timeout: 30_000, env: { HIVE_RUNTIME_DIR: join(dir, 'run') } });
        expect(r.exitCode).toBe(2);
        expect(r.stderr).toContain('networks.test.socket');
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
