// The ratelimit filter in a real tree on ngIRCd: 7 quick commands from alice give 5 answers and
// exactly one notice, then silence (more commands are dropped without a second notice); her chat
// still passes; bob is unaffected; after the window alice is answered again. And a config that is
// not a duration is refused at start with a clear reason.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startNgircd, type Ircd } from '../helpers/ircd.js';
import { connectClient, type IrcTestClient } from '../helpers/irc-client.js';
import { startHive, type TestHive } from '../helpers/hive.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { botJoined, exec, expectPrivmsg, ircNetwork } from '../mouth/util.js';

let hive: TestHive | undefined;
const clients: IrcTestClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await hive?.stop();
  hive = undefined;
});

const attached = (h: TestHive, node: string) => waitFor(() => h.logs.some((l) => l.node === node && l.msg === 'attached to parent'), { timeout: 20_000, what: `${node} attached` });

describe('ratelimit on ngIRCd', () => {
  let ircd: Ircd;
  beforeAll(async () => { ircd = await startNgircd(); });
  afterAll(async () => { await ircd?.stop(); });

  it('5 commands per window: one notice, then silence until the window passes; chat and other users pass', async () => {
    const connect = async (nick: string) => {
      const c = await connectClient({ host: ircd.host, port: ircd.port, nick });
      clients.push(c);
      await c.join('#one');
      return c;
    };
    const alice = await connect('alice');
    const bob = await connect('bob');
    hive = await startHive({
      networks: { net: ircNetwork(ircd) },
      plugins: [
        { name: 'ratelimit', use: 'ratelimit', config: { commands: 5, per: '5s' } },
        { name: 'ping', use: 'ping', parent: 'ratelimit' },
        { name: 'recorder', exec: exec('recorder'), parent: 'ratelimit' },
      ],
    });
    const h = hive;
    await botJoined(alice, 'hivebot', '#one');
    await attached(h, 'ping');
    await attached(h, 'recorder');

    // What the bot said to alice in private: her answers and notices are hers alone.
    const pongs = (since: number) => alice.lines.slice(since).filter((l) => l.command === 'PRIVMSG' && l.nick === 'hivebot' && l.params[0] === 'alice' && l.params[1] === 'pong');
    const notices = (since: number) => alice.lines.slice(since).filter((l) => l.command === 'NOTICE' && l.nick === 'hivebot' && l.params[0] === 'alice');

    const start = alice.mark();
    for (let i = 0; i < 7; i++) alice.say('hivebot', 'ping');
    // Still limited: more commands are dropped, with no second notice; ordinary chat passes. Sent
    // with the 7 (no server penalty in the test ngIRCd), so they are inside the 5 s window by
    // construction: sent after a round trip, a loaded machine could take the window past them.
    alice.say('hivebot', 'ping');
    alice.say('#one', '!ping');
    alice.say('#one', 'just chatting, not a command');
    await waitFor(() => pongs(start).length >= 5 && notices(start).length >= 1, { timeout: 15_000, what: '5 pongs and a notice' });
    expect(notices(start)[0]!.params[1]).toMatch(/^you are sending commands too fast; wait [1-5]s$/);
    await h.waitForLog((l) => l.node === 'recorder' && l.msg === 'seen' && String(l.text).endsWith('PRIVMSG #one :just chatting, not a command'), 15_000);
    // bob is not alice: answered at once.
    const bobMark = bob.mark();
    bob.say('hivebot', 'ping');
    await expectPrivmsg(bob, 'hivebot', 'bob', 'pong', { since: bobMark, timeout: 15_000 });
    await sleep(500);
    expect(pongs(start)).toHaveLength(5);
    expect(notices(start)).toHaveLength(1);
    expect(alice.lines.slice(start).filter((l) => l.command === 'PRIVMSG' && l.nick === 'hivebot' && l.params[0] === '#one')).toEqual([]);
    expect((await h.node('ratelimit')).counters.dropped).toBe(4);

    // After the window, alice is answered again (and could be noticed again later).
    await sleep(5500);
    const again = alice.mark();
    alice.say('hivebot', 'ping');
    await expectPrivmsg(alice, 'hivebot', 'alice', 'pong', { since: again, timeout: 15_000 });
    alice.say('#one', '!ping');
    await expectPrivmsg(alice, 'hivebot', '#one', 'pong', { since: again, timeout: 15_000 });
    expect(notices(again)).toEqual([]);
  });
});

describe('ratelimit config', () => {
  it('refuses a window that is not a duration, saying why', async () => {
    hive = await startHive({
      networks: { console: { type: 'terminal' } },
      plugins: [{ name: 'ratelimit', use: 'ratelimit', config: { commands: 5, per: 'soon' } }],
    }, { waitReady: false });
    const h = hive;
    const refused = await h.waitForLog((l) => l.node === 'ratelimit' && typeof l.msg === 'string' && l.msg.startsWith('bad plugin config'), 20_000);
    expect(refused.msg).toMatch(/config\.per: expected a duration like 30s/);
    await waitFor(async () => (await h.node('ratelimit')).state === 'failed', { timeout: 20_000, what: 'ratelimit failed' });
  });
});
