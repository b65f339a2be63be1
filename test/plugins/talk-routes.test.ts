// autorespond and alerts take the channel's talk only while something can come of it (issue 17,
// docs/protocol.md#routes): a rule, a subscription, or mentions where the bot is in two channels.
// Otherwise the bus daemon sends them their commands (and alerts its membership lines) alone.
// Real tree on ngIRCd; what each process was sent is its `in` counter.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { parse, stringify } from 'yaml';
import { startNgircd, type Ircd } from '../helpers/ircd.js';
import { connectClient, type IrcTestClient } from '../helpers/irc-client.js';
import { startHive, type TestHive } from '../helpers/hive.js';
import { waitFor } from '../helpers/wait.js';
import { botJoined, exec, expectPrivmsg, ircNetwork, privmsgsFrom } from '../mouth/util.js';

let ircd: Ircd;
let hive: TestHive;
let alice: IrcTestClient;
let bob: IrcTestClient;

beforeAll(async () => {
  ircd = await startNgircd();
  alice = await connectClient({ host: ircd.host, port: ircd.port, nick: 'alice' });
  bob = await connectClient({ host: ircd.host, port: ircd.port, nick: 'bob' });
  for (const ch of ['#one', '#two']) { await alice.join(ch); await bob.join(ch); }
  hive = await startHive({
    networks: { net: ircNetwork(ircd, { channels: ['#one'] }) },
    plugins: [
      { name: 'grant', exec: exec('grant'), config: { grants: { alice: ['autorespond.edit'] } } },
      { name: 'autorespond', use: 'autorespond', parent: 'grant', config: { cooldown: '1ms' } },
      { name: 'alerts', use: 'alerts' },
    ],
  });
  await botJoined(bob, 'hivebot', '#one');
}, 60_000);

afterAll(async () => {
  alice?.close();
  bob?.close();
  await hive?.stop();
  await ircd?.stop();
});

const received = async (node: string) => (await hive.node(node)).counters.in ?? 0;

async function ask(who: IrcTestClient, target: string, text: string, answer: string | RegExp): Promise<void> {
  const since = who.mark();
  who.say(target, text);
  await expectPrivmsg(who, 'hivebot', target.startsWith('#') ? target : who.nick, answer, { since });
}

/**
 * Says `n` lines of talk in `channel`, then a command of `node`'s and waits for its answer: the
 * talk reached the mouth before the command, so a node taking talk has been sent it by then.
 * Returns how many messages the node was sent in all, the command included.
 */
async function talkThenCommand(node: string, channel: string, n: number, command: string, answer: string | RegExp): Promise<number> {
  const before = await received(node);
  for (let i = 0; i < n; i++) bob.say(channel, `just talk ${i}`);
  await ask(alice, channel, command, answer);
  return (await received(node)) - before;
}

describe('talk is taken only while something can come of it', () => {
  it('autorespond: no rule, no talk; a rule brings it, deleting the last rule stops it', async () => {
    expect(await talkThenCommand('autorespond', '#one', 20, '!ar list', /^no rules yet/)).toBe(1);
    await ask(alice, '#one', '!ar add /^narrow$/ wide', 'rule 1 added');
    await ask(bob, '#one', 'narrow', 'wide');
    expect(await talkThenCommand('autorespond', '#one', 20, '!ar list', '#1 /^narrow$/ → wide')).toBeGreaterThanOrEqual(21);
    await ask(alice, '#one', '!ar del 1', 'rule 1 deleted');
    expect(await talkThenCommand('autorespond', '#one', 20, '!ar list', /^no rules yet/)).toBe(1);
    // And a rule still answers after all that.
    await ask(alice, '#one', '!ar add /^again$/ yes', 'rule 2 added');
    await ask(bob, '#one', 'again', 'yes');
  });

  it('alerts: in one channel with no subscription it takes no talk; a subscription, or a second channel (mentions), brings it', async () => {
    // Once it knows who is where (after its start it asks the server: members.ts), talk stops.
    await waitFor(async () => (await talkThenCommand('alerts', '#one', 1, '!subscriptions', /^you have no subscriptions/)) === 1, { what: 'alerts settled and narrow' });
    expect(await talkThenCommand('alerts', '#one', 20, '!subscriptions', /^you have no subscriptions/)).toBe(1);

    await ask(alice, '#one', '!subscribe deploy', "subscribed to 'deploy'");
    let since = alice.mark();
    bob.say('#one', 'the deploy is done');
    await expectPrivmsg(alice, 'hivebot', 'alice', '[#one] <bob> the deploy is done', { since });
    await ask(alice, '#one', '!unsubscribe deploy', "unsubscribed from 'deploy'");
    expect(await talkThenCommand('alerts', '#one', 20, '!subscriptions', /^you have no subscriptions/)).toBe(1);

    // A second channel: someone absent from one can now be mentioned there (members.ts).
    const c = parse(await readFile(hive.configFile, 'utf8')) as { networks: { net: { channels: string[] } } };
    c.networks.net.channels = ['#one', '#two'];
    await writeFile(hive.configFile, stringify(c));
    const r = await hive.cli('reload', '--config', hive.configFile);
    expect(r.exitCode, r.stderr).toBe(0);
    await botJoined(bob, 'hivebot', '#two');
    const carol = await connectClient({ host: ircd.host, port: ircd.port, nick: 'carol' });
    try {
      await carol.join('#two');
      await waitFor(async () => (await talkThenCommand('alerts', '#one', 1, '!subscriptions', /^you have no subscriptions/)) === 2, { what: 'alerts taking talk again' });
      const aliceSince = alice.mark();
      since = carol.mark();
      bob.say('#one', 'has anyone seen carol today');
      await expectPrivmsg(carol, 'hivebot', 'carol', '[#one] <bob> has anyone seen carol today', { since });
      expect(privmsgsFrom(alice, 'hivebot', 'alice', aliceSince)).toEqual([]);
    } finally {
      carol.close();
    }
  });
});
