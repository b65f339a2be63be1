// Outbound safety of the mouth, measured on the wire by a raw client in the channel on ngIRCd:
// messages never interleave, the flood limit holds, injection attempts are refused with named
// errors and never reach the server, and long replies are split into whole lines.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startNgircd, type Ircd } from '../helpers/ircd.js';
import { connectClient, type IrcLine, type IrcTestClient } from '../helpers/irc-client.js';
import { startHive, type TestHive } from '../helpers/hive.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { LONG_KINDS, longText } from '../fixtures/long-text.js';
import { botJoined, exec, expectPrivmsg, ircNetwork, logsOf, privmsgsFrom, waitForNodeLog } from './util.js';

let ircd: Ircd;
let hive: TestHive | undefined;
const clients: IrcTestClient[] = [];

beforeAll(async () => { ircd = await startNgircd(); });
afterAll(async () => { await ircd?.stop(); });
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await hive?.stop();
  hive = undefined;
});

/** A raw client in #one, and a hive whose bot has joined #one. */
async function setUp(network: Record<string, unknown>, plugins: Record<string, unknown>[]): Promise<IrcTestClient> {
  const c = await connectClient({ host: ircd.host, port: ircd.port, nick: 'watcher' });
  clients.push(c);
  await c.join('#one');
  hive = await startHive({ networks: { net: ircNetwork(ircd, network) }, plugins });
  await botJoined(c, 'hivebot', '#one');
  return c;
}

describe('outbound on ngIRCd', () => {
  it('sends the lines of each multi-line message consecutively while two plugins answer at once', async () => {
    // A burst smaller than a message, so the bucket pauses inside messages: that is where another
    // message's lines could slip in.
    const c = await setUp({ flood: { burst: 2, rate: 30 } }, [
      { name: 'multa', exec: exec('multi'), config: { label: 'A' } },
      { name: 'multb', exec: exec('multi'), config: { label: 'B' } },
    ]);
    const since = c.mark();
    const rounds = 3, n = 7;
    for (let i = 0; i < rounds; i++) c.say('#one', `!multi ${n}`);
    const total = 2 * rounds * n;
    await waitFor(() => privmsgsFrom(c, 'hivebot', '#one', since).length >= total, { timeout: 15_000, what: `${total} lines` });
    await sleep(200);
    const texts = privmsgsFrom(c, 'hivebot', '#one', since).map((l) => l.params[1]!);
    expect(texts).toHaveLength(total);
    // Cut the stream into messages: each must be "X 1/n" … "X n/n" of one label, uninterrupted.
    const messages: string[][] = [];
    for (let i = 0; i < texts.length; i += n) messages.push(texts.slice(i, i + n));
    for (const m of messages) {
      const label = m[0]!.split(' ')[0]!;
      expect(m, `lines of one message, in order: ${texts.join(' | ')}`).toEqual(Array.from({ length: n }, (_, k) => `${label} ${k + 1}/${n}`));
    }
    expect(messages.filter((m) => m[0]!.startsWith('A ')).length).toBe(rounds);
    expect(messages.filter((m) => m[0]!.startsWith('B ')).length).toBe(rounds);
  });

  it('queues fairly: a chatty plugin does not make another wait behind its backlog', async () => {
    // A slow rate (2 lines a second), as in xmpp-hostile. Fair, pong goes out after 2 flood lines:
    // the one already taken off the queue, waiting for its token, and one more turn. A third passes
    // only if the test's !ping takes over one line interval to come back from ping into the queue
    // (watcher -> ngIRCd -> mouth -> ping -> mouth: 15 ms here, more on a loaded machine; at 10
    // lines a second 100 ms was too little), a fourth if over two. The ~13 lines still queued stay far above.
    const n = 16;
    const c = await setUp({ flood: { burst: 2, rate: 2 } }, [{ name: 'flood', exec: exec('flood') }, { name: 'ping', use: 'ping' }]);
    const since = c.mark();
    c.say('#one', `!flood ${n}`);
    await waitFor(() => privmsgsFrom(c, 'hivebot', '#one', since).length >= 3, { what: 'the flood going out' });
    const asked = c.mark();
    c.say('#one', '!ping');
    await expectPrivmsg(c, 'hivebot', '#one', 'pong', { since: asked });
    await waitFor(() => privmsgsFrom(c, 'hivebot', '#one', since).length >= n + 1, { timeout: 20_000, what: 'the rest of the flood' });
    const texts = privmsgsFrom(c, 'hivebot', '#one', since).map((l) => l.params[1]);
    expect(texts.filter((t) => t?.startsWith('flood '))).toHaveLength(n);
    // pong goes out at the next turn, not after the ~13 flood lines still queued.
    const afterAsk = privmsgsFrom(c, 'hivebot', '#one', asked).map((l) => l.params[1]);
    const at = afterAsk.indexOf('pong');
    expect(at, `pong came after ${at} flood lines of the ${afterAsk.length - 1} sent after the ask: ${texts.join(' | ')}`).toBeLessThanOrEqual(3);
  });

  it('never sends faster than the configured token bucket (burst 3, rate 5/s)', async () => {
    const burst = 3, rate = 5, n = 30;
    const c = await setUp({ flood: { burst, rate } }, [{ name: 'flood', exec: exec('flood') }]);
    const since = c.mark();
    // Taken before the command leaves: every flood line is sent after this moment, by a bucket that
    // holds at most `burst` tokens then. So line k cannot be sent, let alone read here, before
    // (k - burst) / rate s have passed. A stalled reader (this process) only reads lines later, so
    // nothing but a bucket that lets lines out too fast can break these bounds. Windows between two
    // received lines are no such evidence (a stall reads lines sent 200 ms apart in one chunk); the
    // exact windows are protocol/token-bucket.test.ts's, which drives the bucket with its own clock.
    const askedAt = Date.now();
    c.say('#one', `!flood ${n}`);
    const expectedMs = ((n - burst) / rate) * 1000; // 5.4 s
    await waitFor(() => privmsgsFrom(c, 'hivebot', '#one', since).length >= n, { timeout: 3 * expectedMs, what: `${n} flood lines` });
    const lines = privmsgsFrom(c, 'hivebot', '#one', since);
    // Each once, none lost or doubled.
    expect(lines.map((l) => l.params[1]).sort()).toEqual(Array.from({ length: n }, (_, i) => `flood ${i + 1}/${n}`).sort());
    // Date.now() here is whole milliseconds; the mouth's bucket runs on performance.now(): 5 ms for that.
    const clockMs = 5;
    lines.forEach((l, i) => {
      const earliest = Math.max(0, ((i + 1 - burst) / rate) * 1000);
      expect(l.at - askedAt, `line ${i + 1} read ${l.at - askedAt} ms after the command, earliest allowed ${earliest}`).toBeGreaterThanOrEqual(earliest - clockMs);
    });
    // And it paces, it does not stall. Coarse, since a loaded reader can only add to it: a bucket
    // that never refills, or runs at half the rate (10.8 s and the round trip), fails it.
    expect(lines[n - 1]!.at - askedAt).toBeLessThan(2 * expectedMs);
    const result = await waitForNodeLog(hive!, 'flood', 'flood result');
    expect(result).toMatchObject({ n, ok: n, errors: {} });
  });

  it('refuses injection attempts with named errors and sends none of them', async () => {
    const c = await setUp({}, [{ name: 'inject', exec: exec('inject'), config: { oper: ircd.oper.name } }, { name: 'ping', use: 'ping' }]);
    const since = c.mark();
    c.say('#one', '!inject');
    await expectPrivmsg(c, 'hivebot', '#one', 'inject done', { since });
    // Log lines travel asynchronously (pino, stderr): wait for all eleven.
    const resultLogs = await waitFor(() => {
      const r = logsOf(hive!, 'inject').filter((l) => l.msg === 'inject result');
      return r.length >= 11 ? r : undefined;
    }, { what: 'eleven inject results' });
    const results = Object.fromEntries(resultLogs.map((l) => [l.attempt, l.error]));
    const invalid = 'org.hive.Error.InvalidMessage', refused = 'org.hive.Error.Refused';
    expect(results).toEqual({
      crlf: invalid, lf: invalid, cr: invalid, nul: invalid, prefix: invalid,
      quit: refused, oper: refused, pass: refused, kill: refused, oversize: refused, mixed: refused,
    });
    // The canary afterwards arrives; nothing of the attempts did.
    c.say('#one', '!ping');
    await expectPrivmsg(c, 'hivebot', '#one', 'pong', { since });
    const got = c.lines.slice(since);
    expect(got.filter((l) => l.raw.includes('EVIL')).map((l) => l.raw)).toEqual([]);
    expect(got.filter((l) => l.nick === 'hivebot' && l.command !== 'PRIVMSG').map((l) => l.raw)).toEqual([]);
    expect(privmsgsFrom(c, 'hivebot', '#one', since).map((l) => l.params[1])).toEqual(['inject done', 'pong']);
    // The bot is no IRC operator (OPER did not go through) and still on the channel.
    const w = c.mark();
    c.send('WHOIS hivebot');
    await c.waitFor((l) => l.command === '318', { since: w });
    const whois = c.lines.slice(w);
    expect(whois.some((l) => l.command === '311')).toBe(true);
    expect(whois.some((l) => l.command === '313')).toBe(false);
    expect(whois.find((l) => l.command === '319')?.params.at(-1)).toContain('#one');
    // The mouth logged each refusal it made itself (the rest the node boundary refused).
    const mouthRefusals = await waitFor(() => {
      const r = logsOf(hive!, 'mouth').filter((l) => l.msg === 'outbound message refused');
      return r.length >= 7 ? r : undefined;
    }, { what: 'the refusals in the mouth log' });
    expect(mouthRefusals.map((l) => l.code).sort()).toEqual(['CommandNotAllowed', 'CommandNotAllowed', 'CommandNotAllowed', 'CommandNotAllowed', 'CommandNotAllowed', 'InvalidLine', 'LineTooLong']);
  });

  it('splits long replies into lines of at most 512 bytes as relayed, on character boundaries', async () => {
    const c = await setUp({}, [{ name: 'long', exec: exec('long') }]);
    for (const kind of LONG_KINDS) {
      const original = longText(kind);
      const since = c.mark();
      c.say('#one', `!long ${kind}`);
      let parts: IrcLine[] = [];
      await waitFor(() => {
        parts = privmsgsFrom(c, 'hivebot', '#one', since);
        return reassembled(parts.map((l) => l.params[1]!), original) === original.length;
      }, { timeout: 10_000, what: `all parts of the ${kind} text` }).catch((e: Error) => {
        throw new Error(`${e.message}; got:\n${parts.map((l) => l.raw).join('\n')}`);
      });
      await sleep(100);
      parts = privmsgsFrom(c, 'hivebot', '#one', since);
      expect(parts.length, kind).toBeGreaterThan(1);
      for (const p of parts) {
        // What the channel receives: ":hivebot!~hivebot@127.0.0.1 PRIVMSG #one :…" + CRLF.
        expect(p.prefix).toMatch(/^hivebot!/);
        expect(Buffer.byteLength(p.raw, 'utf8') + 2, `${kind}: ${p.raw}`).toBeLessThanOrEqual(512);
        expect(p.params[1], `${kind}: no broken character`).not.toContain('\uFFFD');
      }
      expect(reassembled(parts.map((l) => l.params[1]!), original), `${kind}: the parts give back the text`).toBe(original.length);
      // Not needlessly short: every part but the last fills most of the line.
      for (const p of parts.slice(0, -1)) expect(Buffer.byteLength(p.raw, 'utf8') + 2, `${kind}: ${p.raw}`).toBeGreaterThan(350);
    }
  });
});

/**
 * How much of `original` the parts give back, in order and without anything else (-1 on a
 * mismatch). A cut may fall at a space that ends a part; ngIRCd strips trailing spaces from the
 * lines it relays (InspIRCd keeps them), so such a space may be missing at a cut.
 */
function reassembled(parts: string[], original: string): number {
  let pos = 0;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (!original.startsWith(part, pos)) return -1;
    pos += part.length;
    if (i < parts.length - 1 && original[pos] === ' ' && !parts[i + 1]!.startsWith(' ')) pos++;
  }
  return pos;
}
