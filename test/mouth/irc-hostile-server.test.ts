// A hostile IRC server on one network (test/helpers/fake-ircd.ts) and a real ngIRCd on another, in
// one hive: malformed lines, lines without an end, storms of numerics and PINGs cost the hostile
// network at most its connection — never the mouth process, and never an answer on ngIRCd.
import { createRequire } from 'node:module';
import irc from 'irc-framework';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startNgircd, type Ircd } from '../helpers/ircd.js';
import { connectClient, type IrcTestClient } from '../helpers/irc-client.js';
import { startFakeIrcd, type FakeIrcd } from '../helpers/fake-ircd.js';
import { startHive, type TestHive } from '../helpers/hive.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { botJoined, exec, expectPrivmsg, ircNetwork, logsOf, waitForNodeLog } from './util.js';

let ircd: Ircd;
let fake: FakeIrcd;
let hive: TestHive;
let alice: IrcTestClient;
let mouthPid: number | null;

/**
 * The real network answers `!ping` all the time; every ask is checked in afterEach. What counts is
 * that each ask is answered, not how fast: while the mouth chews megabytes from the hostile server on
 * a loaded machine a pong can take seconds, so the wait is only a guard against a hang.
 */
const PONG_GUARD_MS = 30_000;
const pinger = { asked: 0, answered: 0, missed: [] as string[], stop: false, done: Promise.resolve() };

async function pingLoop(): Promise<void> {
  while (!pinger.stop) {
    const since = alice.mark();
    pinger.asked++;
    alice.say('#one', '!ping');
    try {
      await expectPrivmsg(alice, 'hivebot', '#one', 'pong', { since, timeout: PONG_GUARD_MS });
      pinger.answered++;
    } catch (err) {
      pinger.missed.push(String(err));
    }
    await sleep(200);
  }
}

async function counters(): Promise<Record<string, number>> {
  const mouth = await hive.node('mouth');
  expect(mouth.pid).toBe(mouthPid);
  return mouth.counters;
}

/**
 * `!ping` on the hostile network comes back as `pong`: the connection works. If the mouth dropped
 * the connection meanwhile (allowed only where a test says so), it waits for the next one.
 */
async function fakeRoundTrip(opts: { reconnectOk?: boolean; timeout?: number } = {}): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const before = fake.connections.length;
    const c = await fake.waitRegistered({ since: before - 1 });
    if (!opts.reconnectOk) expect(c).toBe(fake.current);
    const since = c.lines.length;
    if (!c.closed) c.socket.write(':alice!a@h PRIVMSG #f :!ping\r\n');
    try {
      await waitFor(() => c.lines.slice(since).find((l) => l === 'PRIVMSG #f :pong') ?? (c.closed ? Promise.reject(new Error('closed')) : undefined), { timeout: opts.timeout ?? 5_000, what: 'pong on the fake network' });
      return;
    } catch (err) {
      if (!opts.reconnectOk || attempt >= 20) throw err;
      await waitFor(() => (c.closed ? true : undefined), { timeout: 10_000 }).catch(() => undefined);
    }
  }
}

beforeAll(async () => {
  ircd = await startNgircd();
  fake = await startFakeIrcd();
  alice = await connectClient({ host: ircd.host, port: ircd.port, nick: 'alice' });
  await alice.join('#one');
  hive = await startHive({
    networks: {
      // stable_after short: each test starts from a fresh backoff once the connection stood a moment.
      fake: ircNetwork(fake, { channels: ['#f'], reconnect: { min_delay: 100, max_delay: 400, stable_after: '300ms' } }),
      real: ircNetwork(ircd, { channels: ['#one'] }),
    },
    plugins: [{ name: 'ping', use: 'ping' }, { name: 'recorder', exec: exec('recorder') }],
  });
  await fake.waitRegistered();
  await botJoined(alice, 'hivebot', '#one');
  mouthPid = (await hive.node('mouth')).pid;
  expect(mouthPid).toBeGreaterThan(0);
  pinger.done = pingLoop();
}, 60_000);

afterAll(async () => {
  pinger.stop = true;
  await pinger.done;
  alice?.close();
  await hive?.stop();
  await fake?.close();
  await ircd?.stop();
});

afterEach(async () => {
  // The other network answered throughout, and the mouth is the same process.
  const asked = pinger.asked;
  await waitFor(() => pinger.answered + pinger.missed.length >= asked ? true : undefined, { timeout: PONG_GUARD_MS + 5_000, what: 'the last !ping on the real network answered or given up' });
  expect(pinger.missed).toEqual([]);
  expect((await hive.node('mouth')).pid).toBe(mouthPid);
}, PONG_GUARD_MS + 30_000);

describe('a hostile server on one network', () => {
  it('drops, counts and logs each line irc-framework cannot take; the connection goes on', async () => {
    const c0 = await counters();
    const connects = c0['fake.connects'];
    // Each of these made the mouth exit (issue 14), then every network with it.
    // First some that have enough parameters for the mouth's shape check and still throw inside
    // irc-framework's handlers (caught around its parsing), then the lines of the issue.
    // (The first two are logged; the log takes 5 a minute.)
    const crashers = [':s 353 hivebot', 'PRIVMSG', ':s 311 hivebot', ':s 366 hivebot', ':s 900 hivebot', ':s 318 hivebot', ':a!b@c PRIVMSG', ':a!b@c NOTICE', ':a!b@c KICK', ':a!b@c KICK #f', 'CAP', ':s 353', ':s 311', ':s 352', ':s 366', ':s 367', ':s 900', ':a!b@c BATCH'];
    // Commands the mouth follows itself, short of parameters (a NICK for the bot without the new
    // nick threw in irc-framework; a 001 without a nick made irc-framework forget the bot's nick),
    // NUL, no command, a command that is not one.
    const refused: (string | Buffer)[] = [
      ':hivebot!bot@fake.host NICK', ':a!b@c NICK', ':s 001', ':a!b@c JOIN', ':s 005',
      Buffer.from(':a!b@c PRIVMSG #f :nul\x00byte'), '   ', ':onlyaprefix', Buffer.from([0xc3, 0x28, 0xff]), ':a!b@c PRIV;MSG #f :x',
    ];
    for (const line of [...crashers, ...refused]) {
      fake.send(line);
      await fakeRoundTrip();
    }
    const c1 = await counters();
    expect(c1['fake.malformed']! - c0['fake.malformed']!).toBe(crashers.length + refused.length);
    expect(c1['fake.connects']).toBe(connects);
    expect(c1['fake.hostile_drops']).toBe(c0['fake.hostile_drops']);
    // Logged with the line escaped and cut, at most 5 a minute.
    const thrown = await waitForNodeLog(hive, 'mouth', 'malformed line from the server dropped');
    expect(thrown).toMatchObject({ network: 'fake', line: '":s 353 hivebot"' });
    expect(String(thrown.why)).toMatch(/Cannot read properties of undefined/);
    const short = await waitForNodeLog(hive, 'mouth', 'malformed line from the server dropped', (l) => l.line === '"PRIVMSG"');
    expect(short.why).toBe('PRIVMSG needs at least 2 parameters');
    await sleep(300);
    expect(logsOf(hive, 'mouth').filter((l) => l.msg === 'malformed line from the server dropped').length).toBeLessThanOrEqual(5);
    // `hive tree` shows it per network.
    const shown = await hive.cli('tree', '--config', hive.configFile);
    expect(shown.stdout).toContain(`network fake: identified no, malformed lines ${c1['fake.malformed']}, connects ${connects}, dropped for bad input ${c1['fake.hostile_drops']}`);
    expect(shown.stdout).toMatch(/network real: identified no, malformed lines 0,/);
    // Still the nick it registered with: neither the NICK nor the 001 without a nick changed it.
    fake.send(':alice!a@h PRIVMSG hivebot :!ping');
    await fake.waitLine(/^PRIVMSG alice :pong$/, { since: fake.current!.lines.length });
    fake.send(':alice!a@h PRIVMSG #f :hivebot: ping');
    await fake.waitLine(/^PRIVMSG #f :pong$/, { since: fake.current!.lines.length });
  });

  it('passes lines that are not valid UTF-8 to the plugins byte for byte, without counting them', async () => {
    const c0 = await counters();
    const odd = [
      Buffer.from(':\xff\xfe!b@c PRIVMSG #f :bad prefix', 'latin1'),
      Buffer.from(':a!b@c PRIVMSG #f :\xc3\x28 broken', 'latin1'),
      Buffer.from(':a!b@c PRIVMSG \xe9t\xe9 :latin-1 target', 'latin1'),
    ];
    for (const line of odd) {
      fake.send(line);
      await fakeRoundTrip();
    }
    for (const line of odd) {
      await waitFor(() => logsOf(hive, 'recorder').find((l) => l.msg === 'seen' && l.network === 'fake' && l.hex === line.toString('hex')), { what: `${line.toString('latin1')} at the recorder` });
    }
    const c1 = await counters();
    expect(c1['fake.malformed']).toBe(c0['fake.malformed']);
    expect(c1['fake.connects']).toBe(c0['fake.connects']);
  });

  it('survives every command irc-framework handles with each of its parameters missing; a flood of malformed lines costs only that connection', async () => {
    // Every command irc-framework has a handler for, with 0-3 parameters, from a server and a user.
    const require = createRequire(import.meta.url);
    const numerics = require('irc-framework/src/commands/numerics.js') as Record<string, string>;
    const byName = Object.fromEntries(Object.entries(numerics).map(([n, k]) => [k, n]));
    const handled = Object.keys((new irc.Client() as unknown as { command_handler: { handlers: Record<string, unknown> } }).command_handler.handlers);
    const params = ['hivebot', '#f', 'x'];
    const lines = handled.flatMap((name) => [':s', ':a!b@c'].flatMap((prefix) => [0, 1, 2, 3].map((k) => [prefix, byName[name] ?? name, ...params.slice(0, k)].join(' '))));
    expect(lines.length).toBeGreaterThan(800);
    const c0 = await counters();
    // In slices, each followed by a round trip; a slice may push the count over the malformed
    // limit (100 in 10 s), and then the mouth drops that connection and comes back.
    for (let i = 0; i < lines.length; i += 120) {
      await fakeRoundTrip({ reconnectOk: true });
      fake.send(lines.slice(i, i + 120).join('\r\n'));
    }
    await fakeRoundTrip({ reconnectOk: true });
    const c1 = await counters();
    expect(c1['fake.malformed']! - c0['fake.malformed']!).toBeGreaterThan(100);
    // The flood drop is shown by one write of its own: whether the slices above fell within one
    // 10 s window depends on how fast the round trips between them were. 310 lines split over at
    // most three windows (processing them takes far less than 20 s) put more than 100 in one.
    const floods = () => logsOf(hive, 'mouth').filter((l) => l.msg === 'disconnected; reconnecting' && String(l.reason).startsWith('MalformedFlood')).length;
    const earlier = floods();
    const conn = fake.current!;
    const before = fake.connections.length;
    fake.send(Array.from({ length: 310 }, () => 'PRIVMSG').join('\r\n'));
    await waitFor(() => (conn.closed ? true : undefined), { timeout: 20_000, what: 'the mouth to drop the connection' });
    await fake.waitRegistered({ since: before });
    await fakeRoundTrip();
    const c2 = await counters();
    // The flood of malformed lines dropped the connection once, with its named reason.
    expect(c2['fake.hostile_drops']).toBe(c1['fake.hostile_drops']! + 1);
    await waitFor(() => (floods() > earlier ? true : undefined), { what: 'MalformedFlood as the reason' });
  }, 60_000);

  it('drops a connection that sends a line over 8704 bytes or megabytes without a line end, and reconnects', async () => {
    for (const bytes of [Buffer.concat([Buffer.from(':a!b@c PRIVMSG #f :'), Buffer.alloc(10 * 1024, 0x41), Buffer.from('\r\n')]), Buffer.alloc(8 * 1024 * 1024, 0x42)]) {
      const c0 = await counters();
      const before = fake.connections.length;
      const conn = fake.current!;
      conn.socket.write(bytes);
      await waitFor(() => conn.closed ? true : undefined, { what: 'the mouth to drop the connection' });
      await fake.waitRegistered({ since: before });
      await fakeRoundTrip();
      const c1 = await counters();
      expect(c1['fake.hostile_drops']).toBe(c0['fake.hostile_drops']! + 1);
      expect(c1['fake.connects']).toBe(c0['fake.connects']! + 1);
    }
    const reasons = logsOf(hive, 'mouth').filter((l) => l.msg === 'disconnected; reconnecting' && String(l.reason).startsWith('LineTooLong')).length;
    expect(reasons).toBe(2);
    expect(logsOf(hive, 'mouth').filter((l) => l.msg === 'line from the server too long; dropping the connection')).toHaveLength(2);
  });

  it('drops a connection whose server makes irc-framework hold too much, or does not read what the bot sends', async () => {
    // 210 lines of 1,000 ISUPPORT tokens each: irc-framework keeps every token (limit 200,000
    // entries, checked every 256 lines: the PINGs after them make sure a check comes after all).
    let c0 = await counters();
    let conn = fake.current!;
    let before = fake.connections.length;
    const tokens = (i: number) => Array.from({ length: 1000 }, (_, j) => `K${(i * 1000 + j).toString(36)}=1`).join(' ');
    fake.send([...Array.from({ length: 210 }, (_, i) => `:s 005 hivebot ${tokens(i)} :are supported`), ...Array.from({ length: 300 }, (_, i) => `PING :p${i}`)].join('\r\n'));
    await waitFor(() => (conn.closed ? true : undefined), { timeout: 20_000, what: 'the mouth to drop the connection' });
    await fake.waitRegistered({ since: before });
    await fakeRoundTrip();
    let c1 = await counters();
    expect(c1['fake.hostile_drops']).toBe(c0['fake.hostile_drops']! + 1);
    await waitFor(() => logsOf(hive, 'mouth').find((l) => l.msg === 'disconnected; reconnecting' && String(l.reason).startsWith('StateTooLarge')), { what: 'StateTooLarge as the reason' });

    // A server that sends PINGs and reads nothing: the PONGs would pile up in the mouth's memory.
    c0 = c1;
    conn = fake.current!;
    before = fake.connections.length;
    conn.socket.pause();
    const token = 'x'.repeat(400);
    for (let i = 0; i < 60 && !conn.closed; i++) {
      conn.socket.write(Array.from({ length: 1000 }, () => `PING :${token}`).join('\r\n') + '\r\n');
      await sleep(20);
    }
    await waitFor(() => (conn.closed ? true : undefined), { timeout: 20_000, what: 'the mouth to drop the connection' });
    await fake.waitRegistered({ since: before });
    await fakeRoundTrip();
    c1 = await counters();
    expect(c1['fake.hostile_drops']).toBe(c0['fake.hostile_drops']! + 1);
    await waitFor(() => logsOf(hive, 'mouth').find((l) => l.msg === 'disconnected; reconnecting' && String(l.reason).startsWith('WriteBlocked')), { what: 'WriteBlocked as the reason' });
  }, 60_000);

  it('drops CAP lines irc-framework would keep without bound; capabilities offered without end count toward its state limit', async () => {
    const c0 = await counters();
    const names = (n: number, p: string) => Array.from({ length: n }, (_, j) => `${p}${j}`).join(' ');
    // Over 64 names a line; ACKs of what the bot never requested (irc-framework would enable them).
    fake.send(`:fake.test CAP hivebot NEW :${names(65, 'n')}`);
    fake.send(':fake.test CAP hivebot ACK :never-requested');
    fake.send(':fake.test CAP hivebot ACK :-sasl');
    await fakeRoundTrip();
    const c1 = await counters();
    expect(c1['fake.malformed']! - c0['fake.malformed']!).toBe(3);
    expect(c1['fake.connects']).toBe(c0['fake.connects']);

    // Within 64 a line, but 3,200 lines of new names: irc-framework keeps each (limit 200,000
    // entries; the PINGs after them make sure a check comes after all).
    const conn = fake.current!;
    const before = fake.connections.length;
    const stateDrops = () => logsOf(hive, 'mouth').filter((l) => l.msg === 'disconnected; reconnecting' && String(l.reason).startsWith('StateTooLarge')).length;
    const earlier = stateDrops();
    fake.send([...Array.from({ length: 3200 }, (_, i) => `:fake.test CAP hivebot NEW :${names(64, `c${i}-`)}`), ...Array.from({ length: 300 }, (_, i) => `PING :p${i}`)].join('\r\n'));
    await waitFor(() => (conn.closed ? true : undefined), { timeout: 30_000, what: 'the mouth to drop the connection' });
    await fake.waitRegistered({ since: before });
    await fakeRoundTrip();
    const c2 = await counters();
    expect(c2['fake.hostile_drops']).toBe(c1['fake.hostile_drops']! + 1);
    expect(c2['fake.malformed']).toBe(c1['fake.malformed']);
    await waitFor(() => (stateDrops() > earlier ? true : undefined), { what: 'StateTooLarge as the reason' });
  }, 60_000);

  it('takes 10,000 numerics and a PING flood in stride', async () => {
    const c0 = await counters();
    const numerics = Array.from({ length: 10_000 }, (_, i) => [
      `:s 372 hivebot :- motd line ${i}`,
      `:s 353 hivebot = #big :n${i} @o${i} +v${i}`,
      `:s 352 hivebot #big u${i} h${i} s n${i} H :0 real`,
      `:s 401 hivebot n${i} :No such nick`,
    ][i % 4]);
    fake.send(numerics.join('\r\n'));
    // Every one of them goes to two plugins first: on a busy machine that takes a while.
    await fakeRoundTrip({ timeout: 30_000 });
    const since = fake.current!.lines.length;
    fake.send(Array.from({ length: 5_000 }, (_, i) => `PING :flood${i}`).join('\r\n'));
    // Each PING answered (by irc-framework), in order; the connection still works.
    await fake.waitLine(/^PONG :?flood4999$/, { since, timeout: 20_000 });
    await fakeRoundTrip({ timeout: 30_000 });
    const c1 = await counters();
    expect(c1['fake.malformed']).toBe(c0['fake.malformed']);
    expect(c1['fake.connects']).toBe(c0['fake.connects']);
  }, 60_000);
});
