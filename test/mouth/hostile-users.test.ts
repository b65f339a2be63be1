// Hostile IRC users (issue 14, items 5 and 7), on ngIRCd with raw clients: a CTCP flood from one
// user does not silence the bot for another, and is answered only within the CTCP limits; a chatty
// plugin filling the queue does not starve `ping`; `!echo` cannot make the bot send a CTCP request
// to a channel. The 60 s flood is scaled down to 12 s with a small queue (20) and a slow
// flood bucket (1 line/s), under which the old code had the queue full after ~5 s.
// And "no single IRC user can make the bot refuse another user's command": one user flooding
// `!ping` filled ping's share of the queue (queue_max / 2), after which ping's answer to anyone else
// was refused. Now each user has a share of each plugin's (max(2, queue_max / 50)) and is served
// round-robin with the others; scaled down: a queue of 20 (ping's share 10, a user's 2), 1 line/s
// out, the flood at 10 lines/s for 10 s. The old code refused every pong to alice within ~1 s.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startNgircd, type Ircd } from '../helpers/ircd.js';
import { connectClient, type IrcTestClient } from '../helpers/irc-client.js';
import { startHive, type TestHive } from '../helpers/hive.js';
import { startFakeIrcd } from '../helpers/fake-ircd.js';
import { sleep } from '../helpers/wait.js';
import { CTCP_PER_SENDER } from '../../mouth/ctcp.js';
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

async function client(nick: string): Promise<IrcTestClient> {
  const c = await connectClient({ host: ircd.host, port: ircd.port, nick });
  clients.push(c);
  await c.join('#one');
  return c;
}

describe('hostile users on ngIRCd', () => {
  it('a CTCP VERSION flood from one user gets a bounded number of answers while another user\'s !ping is answered', async () => {
    const alice = await client('alice');
    const mallory = await client('mallory');
    hive = await startHive({
      networks: { net: ircNetwork(ircd, { flood: { burst: 5, rate: 1 }, queue_max: 20 }) },
      plugins: [{ name: 'ping', use: 'ping' }],
    });
    await botJoined(alice, 'hivebot', '#one');
    const since = mallory.mark();
    const floodMs = 12_000;
    const flood = setInterval(() => mallory.send('PRIVMSG hivebot :\x01VERSION\x01'), 200);
    const delays: number[] = [];
    try {
      const started = Date.now();
      while (Date.now() - started < floodMs) {
        const asked = alice.mark();
        const t0 = Date.now();
        alice.say('#one', '!ping');
        // At 1 line/s, a pong waits at most for the line in flight and one CTCP answer ahead of it.
        await expectPrivmsg(alice, 'hivebot', '#one', 'pong', { since: asked, timeout: 5_000 });
        delays.push(Date.now() - t0);
        await sleep(1_500);
      }
    } finally {
      clearInterval(flood);
    }
    expect(delays.length).toBeGreaterThanOrEqual(5);
    await sleep(1_500);
    const answers = mallory.lines.slice(since).filter((l) => l.command === 'NOTICE' && l.nick === 'hivebot' && l.params[1]?.startsWith('\x01VERSION'));
    // ~60 requests: the per-requester burst, and one more per 30 s at most.
    expect(answers.length).toBeGreaterThanOrEqual(1);
    expect(answers.length).toBeLessThanOrEqual(CTCP_PER_SENDER.burst + Math.ceil((floodMs / 1000) * CTCP_PER_SENDER.ratePerSec));
    // The drops are logged (at a limited rate) with how many there were.
    const dropped = await waitForNodeLog(hive, 'mouth', 'CTCP request not answered');
    expect(dropped).toMatchObject({ why: 'rate' });
    expect(logsOf(hive, 'mouth').filter((l) => l.msg === 'CTCP request not answered').length).toBeLessThanOrEqual(6);
    // ... and counted where `hive tree` shows them.
    const counters = (await hive.node('mouth')).counters;
    expect(counters['net.ctcp_answered']).toBe(answers.length);
    expect(counters['net.ctcp_dropped']).toBeGreaterThan(20);
  });

  it('a plugin filling the queue is refused its excess, and ping still gets its turn', async () => {
    const alice = await client('alice');
    // One line per 5 s: the queue does not drain while the test looks.
    hive = await startHive({
      networks: { net: ircNetwork(ircd, { flood: { burst: 1, rate: 0.2 }, queue_max: 20 }) },
      plugins: [{ name: 'flood', exec: exec('flood') }, { name: 'ping', use: 'ping' }],
    });
    await botJoined(alice, 'hivebot', '#one');
    alice.say('#one', '!flood 100');
    // Every Send has returned: the flood holds its share of the queue (half of it, plus the line
    // in flight), the rest refused by name — and the old code's full queue refused ping too.
    const result = await waitForNodeLog(hive, 'flood', 'flood result');
    const asked = alice.mark();
    alice.say('#one', '!ping');
    await expectPrivmsg(alice, 'hivebot', '#one', 'pong', { since: asked, timeout: 15_000 });
    // pong goes at the next turn (after the line taken out to be sent and at most one more of the
    // flood, whose turn came first), not behind the flood's backlog.
    const afterAsk = privmsgsFrom(alice, 'hivebot', '#one', asked).map((l) => l.params[1]);
    expect(afterAsk.indexOf('pong'), afterAsk.join(' | ')).toBeLessThanOrEqual(2);
    expect(logsOf(hive, 'ping').filter((l) => l.msg === 'command failed')).toEqual([]);
    // The flood's share: 10 queued (half the queue), one line sent and one taken out to be sent.
    expect(result.ok).toBeLessThanOrEqual(12);
    expect((result.errors as Record<string, number>)['org.hive.Error.QueueFull']).toBe(100 - Number(result.ok));
  });

  it('!echo of a CTCP request sends none to the channel; an ACTION still passes', async () => {
    const alice = await client('alice');
    const bob = await client('bob');
    hive = await startHive({ networks: { net: ircNetwork(ircd) }, plugins: [{ name: 'echo', use: 'echo' }, { name: 'ping', use: 'ping' }] });
    await botJoined(alice, 'hivebot', '#one');
    const since = bob.mark();
    alice.say('#one', '!echo \x01VERSION\x01');
    alice.say('#one', '!echo hi \x01PING 1\x01');
    // The refusal is told to the user in plain text (the \x01 shown escaped).
    await expectPrivmsg(bob, 'hivebot', '#one', /^echo: failed \(CtcpNotAllowed: /, { since });
    alice.say('#one', '!echo \x01ACTION waves\x01');
    await expectPrivmsg(bob, 'hivebot', '#one', '\x01ACTION waves\x01', { since });
    alice.say('#one', '!ping');
    await expectPrivmsg(bob, 'hivebot', '#one', 'pong', { since });
    const fromBot = bob.lines.slice(since).filter((l) => l.nick === 'hivebot');
    const ctcp = fromBot.filter((l) => l.params.at(-1)?.includes('\x01') && !l.params.at(-1)!.startsWith('\x01ACTION '));
    expect(ctcp.map((l) => l.raw)).toEqual([]);
    // Refused by name in the mouth's log, with the verified child beside the origin.
    const refusal = await waitForNodeLog(hive, 'mouth', 'outbound message refused');
    expect(refusal).toMatchObject({ code: 'CtcpNotAllowed', via: 'echo', origin: 'echo' });
    expect((await hive.node('mouth')).counters['net.refused_CtcpNotAllowed']).toBe(2);
  });
});

// Issue 14, item 7: the protocol promises bytes end to end, but `!echo` of text that is not UTF-8
// came back with U+FFFD. The fake server keeps exactly the bytes the bot sent (read as latin1).
describe('bytes end to end (fake server)', () => {
  it('!echo and !reverse of bytes that are not UTF-8 give back the same bytes', async () => {
    const fake = await startFakeIrcd();
    try {
      hive = await startHive({ networks: { fake: ircNetwork(fake) }, plugins: [{ name: 'echo', use: 'echo' }, { name: 'text', use: 'text' }] });
      const conn = await fake.waitRegistered();
      await fake.waitLine(/^JOIN #one/);
      await waitForNodeLog(hive, 'text', 'attached to parent');
      await waitForNodeLog(hive, 'echo', 'attached to parent');
      // Latin-1 é, a lone continuation byte, a truncated sequence, 0xff, then valid UTF-8.
      const text = Buffer.concat([Buffer.from('caf\xe9 \x80 \xe2\x82 \xff', 'latin1'), Buffer.from(' ok ü')]);
      const since = conn.lines.length;
      fake.send(Buffer.concat([Buffer.from(':alice!a@example.org PRIVMSG #one :!echo '), text]));
      const echoed = await fake.waitLine(/^PRIVMSG #one :caf/, { since });
      expect(Buffer.from(echoed, 'latin1')).toEqual(Buffer.concat([Buffer.from('PRIVMSG #one :'), text]));
      const since2 = conn.lines.length;
      fake.send(Buffer.concat([Buffer.from(':alice!a@example.org PRIVMSG #one :!reverse ab'), Buffer.from([0xe9]), Buffer.from('c')]));
      const reversed = await fake.waitLine(/^PRIVMSG #one :c/, { since: since2 });
      expect(Buffer.from(reversed, 'latin1')).toEqual(Buffer.concat([Buffer.from('PRIVMSG #one :c'), Buffer.from([0xe9]), Buffer.from('ba')]));
    } finally {
      await fake.close();
    }
  });
});

describe('a share of the outbound queue per IRC user (ngIRCd)', () => {
  it('one user flooding !ping is refused past their share (UserShare) while every !ping of another user is answered', async () => {
    const alice = await client('alice');
    const mallory = await client('mallory');
    hive = await startHive({
      networks: { net: ircNetwork(ircd, { flood: { burst: 1, rate: 1 }, queue_max: 20 }) },
      plugins: [{ name: 'ping', use: 'ping' }],
    });
    await botJoined(alice, 'hivebot', '#one');
    // Both ask in private, so each pong goes to the one who asked.
    const malloryFrom = mallory.mark();
    const floodMs = 10_000;
    // ngIRCd here has no per-command penalty (MaxPenaltyTime = 0): 10 lines/s are relayed as sent.
    const flood = setInterval(() => mallory.send('PRIVMSG hivebot :!ping'), 100);
    const delays: number[] = [];
    try {
      await sleep(2_000); // the flood has filled what it can before alice asks
      const started = Date.now();
      while (Date.now() - started < floodMs - 2_000) {
        const asked = alice.mark();
        const t0 = Date.now();
        alice.send('PRIVMSG hivebot :!ping');
        // At 1 line/s a pong waits for the line in flight and at most one of mallory's (round-robin
        // by user within ping); 6 s is slack for a loaded machine, the old code never answered.
        await expectPrivmsg(alice, 'hivebot', 'alice', 'pong', { since: asked, timeout: 6_000 });
        delays.push(Date.now() - t0);
        await sleep(1_000);
      }
    } finally {
      clearInterval(flood);
    }
    expect(delays.length).toBeGreaterThanOrEqual(3);
    // Alice was told nothing else (no "ping: failed (…)").
    expect(privmsgsFrom(alice, 'hivebot', 'alice').map((l) => l.params[1])).toEqual(delays.map(() => 'pong'));
    // Mallory was answered too, within their share, and is still connected (ngIRCd let the flood be).
    expect(privmsgsFrom(mallory, 'hivebot', 'mallory', malloryFrom).length).toBeGreaterThanOrEqual(3);
    // The rest was refused by name, counted where `hive tree` shows it, and logged at a limited rate.
    const counters = (await hive.node('mouth')).counters;
    expect(counters['net.refused_UserShare']).toBeGreaterThan(20);
    expect(counters['net.refused_QueueFull']).toBe(0);
    const refusals = logsOf(hive, 'mouth').filter((l) => l.msg === 'outbound message refused');
    expect(refusals.length).toBeGreaterThanOrEqual(1);
    expect(refusals.length).toBeLessThanOrEqual(6);
    expect(refusals[0], JSON.stringify(refusals[0])).toMatchObject({ code: 'UserShare', via: 'ping', user: '~mallory@127.0.0.1' });
  });
});
