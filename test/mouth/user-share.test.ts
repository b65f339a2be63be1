// Issue 14, "no single IRC user can make the bot refuse another user's command": one user flooding
// `!ping` filled ping's share of the outbound queue (queue_max / 2), after which ping's answer to
// anyone else was refused. Now each user has a share of each plugin's (max(2, queue_max / 50)) and
// is served round-robin with the others. On ngIRCd with raw clients, scaled down: a queue of 20
// (ping's share 10, a user's 2), 1 line/s out, the flood at 10 lines/s for 10 s. The old code had
// ping's share full within ~1 s of the flood and refused every pong to alice from then on.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startNgircd, type Ircd } from '../helpers/ircd.js';
import { connectClient, type IrcTestClient } from '../helpers/irc-client.js';
import { startHive, type TestHive } from '../helpers/hive.js';
import { sleep } from '../helpers/wait.js';
import { botJoined, expectPrivmsg, ircNetwork, logsOf, privmsgsFrom } from './util.js';

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
  // USER defaults to the nick: on loopback both users have host 127.0.0.1, their idents differ.
  const c = await connectClient({ host: ircd.host, port: ircd.port, nick });
  clients.push(c);
  await c.join('#one');
  return c;
}

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
