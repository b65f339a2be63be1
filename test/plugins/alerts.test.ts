// alerts in a real tree on ngIRCd, seen from raw IRC clients. The bot sits in #one and #two;
// alice is in #one, bob in both, carol and dave in #two.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNgircd, type Ircd } from '../helpers/ircd.js';
import { connectClient, type IrcTestClient } from '../helpers/irc-client.js';
import { startHive, type TestHive } from '../helpers/hive.js';
import { waitFor } from '../helpers/wait.js';
import { botJoined, expectPrivmsg, ircNetwork, privmsgsFrom, waitForNodeLog } from '../mouth/util.js';

let ircd: Ircd;
let hive: TestHive;
let alice: IrcTestClient;
let bob: IrcTestClient;
let carol: IrcTestClient;
let dave: IrcTestClient;

async function client(nick: string, channels: string[]): Promise<IrcTestClient> {
  const c = await connectClient({ host: ircd.host, port: ircd.port, nick });
  for (const ch of channels) await c.join(ch);
  return c;
}

beforeAll(async () => {
  ircd = await startNgircd();
  alice = await client('alice', ['#one']);
  bob = await client('bob', ['#one', '#two']);
  carol = await client('carol', ['#two']);
  dave = await client('dave', ['#two']);
  hive = await startHive({
    networks: { net: ircNetwork(ircd, { channels: ['#one', '#two'] }) },
    plugins: [{ name: 'alerts', use: 'alerts' }],
  });
  await botJoined(bob, 'hivebot', '#one');
  await botJoined(bob, 'hivebot', '#two');
}, 60_000);

afterAll(async () => {
  for (const c of [alice, bob, carol, dave]) c?.close();
  await hive?.stop();
  await ircd?.stop();
});

/** Says `text` as `who` in `target` and waits for the bot's answer there (or in private). */
async function ask(who: IrcTestClient, target: string, text: string, answer: string | RegExp): Promise<void> {
  const since = who.mark();
  who.say(target, text);
  await expectPrivmsg(who, 'hivebot', target.startsWith('#') ? target : who.nick, answer, { since });
}

/** The private messages `who` got from the bot since `since`. */
const alertsOf = (who: IrcTestClient, since: number) => privmsgsFrom(who, 'hivebot', who.nick, since).map((l) => l.params[1]);

describe('alerts', () => {
  it('alerts subscribers and absent mentioned users in private, never about their own lines', async () => {
    await ask(alice, '#one', '!subscribe deploy', "subscribed to 'deploy'");
    await ask(alice, '#one', '!subscribe Other', "subscribed to 'other'");
    await ask(alice, '#one', '!subscribe deploy', "you are already subscribed to 'deploy'");
    await ask(alice, '#one', '!subscribe two words', 'subscribe: one word at a time, e.g. !subscribe deploy');
    await ask(alice, '#one', '!subscriptions', 'your subscriptions: deploy, other');
    // dave subscribes in private; he is not in #one, so he hears nothing from there.
    await ask(dave, 'hivebot', 'subscribe deploy', "subscribed to 'deploy'");

    // Her own line, a word that only contains 'deploy', then bob's line and action.
    let a = alice.mark();
    const d = dave.mark();
    alice.say('#one', 'I will deploy it myself');
    bob.say('#one', 'it was redeployed yesterday');
    bob.say('#one', 'Deploy now!');
    bob.say('#one', '\x01ACTION is going to deploy\x01');
    await expectPrivmsg(alice, 'hivebot', 'alice', '[#one] * bob is going to deploy', { since: a });
    expect(alertsOf(alice, a)).toEqual(['[#one] <bob> Deploy now!', '[#one] * bob is going to deploy']);

    // A mention of carol, who is not in #one (but in #two, so the bot can see her).
    let c = carol.mark();
    bob.say('#one', 'hey carol, look at this');
    await expectPrivmsg(carol, 'hivebot', 'carol', '[#one] <bob> hey carol, look at this', { since: c });
    // dave's first alert is a mention: the 'Deploy now!' lines before did not reach him.
    bob.say('#one', 'dave: ping');
    await expectPrivmsg(dave, 'hivebot', 'dave', '[#one] <bob> dave: ping', { since: d });
    expect(alertsOf(dave, d)).toEqual(['[#one] <bob> dave: ping']);

    // carol in #one: a mention there needs no alert. Her own subscription is the marker.
    await carol.join('#one');
    await ask(carol, '#one', '!subscribe marker', "subscribed to 'marker'");
    c = carol.mark();
    bob.say('#one', 'carol: are you here?');
    bob.say('#one', 'marker');
    await expectPrivmsg(carol, 'hivebot', 'carol', '[#one] <bob> marker', { since: c });
    expect(alertsOf(carol, c)).toEqual(['[#one] <bob> marker']);

    // She leaves #one: mentioned there again, alerted again.
    carol.send('PART #one');
    await carol.waitFor((l) => l.command === 'PART' && l.nick === 'carol', { since: c });
    c = carol.mark();
    bob.say('#one', 'carol left, did she?');
    await expectPrivmsg(carol, 'hivebot', 'carol', '[#one] <bob> carol left, did she?', { since: c });

    // Unsubscribing stops the alerts for that word only.
    await ask(alice, '#one', '!unsubscribe deploy', "unsubscribed from 'deploy'");
    await ask(alice, '#one', '!unsubscribe nothing', "you are not subscribed to 'nothing'");
    a = alice.mark();
    bob.say('#one', 'deploy again');
    bob.say('#one', 'other thing');
    await expectPrivmsg(alice, 'hivebot', 'alice', '[#one] <bob> other thing', { since: a });
    expect(alertsOf(alice, a)).toEqual(['[#one] <bob> other thing']);
    // Commands went to the channel; nothing else reached #one from the bot.
    expect(privmsgsFrom(bob, 'hivebot', '#one').every((l) => !l.params[1]!.startsWith('['))).toBe(true);
  });

  it('drops alerts past the per-user cap, counted, and logs the drops a few times, not once each', async () => {
    await ask(alice, '#one', '!subscribe spam', "subscribed to 'spam'");
    const before = (await hive.node('alerts')).counters?.dropped ?? 0;
    const logged = () => hive.logs.filter((l) => l.node === 'alerts' && l.msg === 'alert cap per minute reached for this user; alert dropped').length;
    const loggedBefore = logged();
    for (let i = 0; i < 30; i++) bob.say('#one', `spam ${i}`);
    // At most max_alerts_per_minute (10) alerts a minute for alice: 20 or more of these are dropped.
    await waitFor(async () => ((await hive.node('alerts')).counters?.dropped ?? 0) - before >= 20, { timeout: 20_000, what: '20 dropped alerts' });
    expect(logged() - loggedBefore).toBeGreaterThan(0);
    expect(logged() - loggedBefore).toBeLessThanOrEqual(5);
    await ask(alice, '#one', '!unsubscribe spam', "unsubscribed from 'spam'");
  });

  it('keeps subscriptions across a kill -9, and finds out again who is where', async () => {
    const before = await hive.node('alerts');
    const since = alice.mark();
    alice.say('hivebot', 'subscribe persist');
    await expectPrivmsg(alice, 'hivebot', 'alice', "subscribed to 'persist'", { since });
    const killedAt = Date.now();
    process.kill(before.pid!, 'SIGKILL');
    await waitFor(async () => {
      const n = await hive.node('alerts');
      return n.state === 'running' && n.pid !== before.pid;
    }, { timeout: 20_000, what: 'alerts restarted' });

    // The new process knows nobody's channels: it must ask the server before alerting.
    const a = alice.mark();
    bob.say('#one', 'persist this');
    await expectPrivmsg(alice, 'hivebot', 'alice', '[#one] <bob> persist this', { since: a, timeout: 15_000 });
    await waitForNodeLog(hive, 'alerts', 'resyncing channel membership (WHOIS on our own nick, then NAMES)', (l) => (l.time as number) > killedAt);
    // Mentions work again too: carol (back in #two only) is known to be absent from #one.
    const c = carol.mark();
    bob.say('#one', 'carol, one more thing');
    await expectPrivmsg(carol, 'hivebot', 'carol', '[#one] <bob> carol, one more thing', { since: c });
    await ask(alice, 'hivebot', 'subscriptions', 'your subscriptions: other, persist');
  });
});
