// The IMMP hooks together in one hive: two IRC networks (two ngIRCd servers, a and b) and the
// terminal. The bridge relays a/#hive, b/#hive and the terminal; notes, autorespond and alerts
// sit under a stand-in for the auth filter (grant) and work per network next to the relays.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNgircd, type Ircd } from '../helpers/ircd.js';
import { connectClient, type IrcTestClient } from '../helpers/irc-client.js';
import { startHive, type TestHive } from '../helpers/hive.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { botJoined, exec, expectPrivmsg, ircNetwork, privmsgsFrom, waitForNodeLog } from '../mouth/util.js';
import { plainText } from '../../plugins/bridge/format.js';

let ircdA: Ircd;
let ircdB: Ircd;
let hive: TestHive;
let alice: IrcTestClient; // a: #hive
let dave: IrcTestClient; // a: #hive
let carol: IrcTestClient; // a: #lobby only
let bob: IrcTestClient; // b: #hive
const clients: IrcTestClient[] = [];

async function client(ircd: Ircd, nick: string, channels: string[]): Promise<IrcTestClient> {
  const c = await connectClient({ host: ircd.host, port: ircd.port, nick });
  clients.push(c);
  for (const ch of channels) await c.join(ch);
  return c;
}

/** A relay by the bot into `channel`, as its reader sees it (colour codes and the no-highlight space removed). */
const expectRelay = (c: IrcTestClient, text: string, since: number) =>
  c.waitFor((l) => l.command === 'PRIVMSG' && l.nick === 'hivebot' && l.params[0] === '#hive' && plainText(l.params[1]!) === text, { since, timeout: 15_000 });

beforeAll(async () => {
  [ircdA, ircdB] = await Promise.all([startNgircd(), startNgircd()]);
  alice = await client(ircdA, 'alice', ['#hive']);
  dave = await client(ircdA, 'dave', ['#hive']);
  carol = await client(ircdA, 'carol', ['#lobby']);
  bob = await client(ircdB, 'bob', ['#hive']);
  hive = await startHive({
    networks: {
      a: ircNetwork(ircdA, { channels: ['#hive', '#lobby'] }),
      b: ircNetwork(ircdB, { channels: ['#hive'] }),
      console: { type: 'terminal', quiet_ms: 200 },
    },
    plugins: [
      { name: 'bridge', use: 'bridge', config: { groups: { devs: ['a/#hive', 'b/#hive', 'console/#console'] }, plain: ['console'] } },
      { name: 'grant', exec: exec('grant'), config: { grants: { alice: ['autorespond.edit'] } } },
      { name: 'notes', use: 'notes', parent: 'grant' },
      { name: 'autorespond', use: 'autorespond', parent: 'grant', config: { cooldown: '1s' } },
      { name: 'alerts', use: 'alerts', parent: 'grant' },
    ],
  });
  await Promise.all([botJoined(alice, 'hivebot', '#hive'), botJoined(carol, 'hivebot', '#lobby'), botJoined(bob, 'hivebot', '#hive')]);
  for (const node of ['bridge', 'notes', 'autorespond', 'alerts']) await waitForNodeLog(hive, node, 'attached to parent', () => true, 20_000);
  // alerts learns the members of its channels (NAMES) before it alerts anyone.
  await sleep(1000);
}, 90_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await hive?.stop();
  await Promise.all([ircdA?.stop(), ircdB?.stop()]);
});

describe('IMMP hooks across two IRC networks and the terminal', () => {
  it('bridges a, b and the terminal both ways, once each', async () => {
    const [a0, b0, o0] = [alice.mark(), bob.mark(), hive.stdout.length];
    alice.say('#hive', 'hello from a');
    await expectRelay(bob, '<alice> hello from a', b0);
    await waitFor(() => hive.stdout.slice(o0).some((l) => plainText(l) === '<alice> hello from a'), { what: 'relay on the terminal' });
    bob.say('#hive', 'hello from b');
    await expectRelay(alice, '<bob> hello from b', a0);
    hive.say('hello from the console');
    await expectRelay(alice, '<you> hello from the console', a0);
    await expectRelay(bob, '<you> hello from the console', b0);
    await sleep(500);
    // No echo back to where a line was said, no second copy.
    expect(privmsgsFrom(alice, 'hivebot', '#hive', a0).map((l) => plainText(l.params[1]!))).toEqual(['<bob> hello from b', '<you> hello from the console']);
    expect(privmsgsFrom(bob, 'hivebot', '#hive', b0).map((l) => plainText(l.params[1]!))).toEqual(['<alice> hello from a', '<you> hello from the console']);
    expect(hive.stdout.slice(o0).map(plainText)).toEqual(['<alice> hello from a', '<bob> hello from b']);
  });

  it('keeps notes per network and channel, while the command itself is relayed as talk', async () => {
    const [a0, b0] = [alice.mark(), bob.mark()];
    bob.say('#hive', '!note add ship it on b');
    await expectPrivmsg(bob, 'hivebot', '#hive', 'note 1 added', { since: b0 });
    await expectRelay(alice, '<bob> !note add ship it on b', a0);
    alice.say('#hive', '!note 1');
    await expectPrivmsg(alice, 'hivebot', '#hive', 'there is no note 1 here', { since: a0 });
    alice.say('#hive', '!note add a note on a');
    await expectPrivmsg(alice, 'hivebot', '#hive', 'note 1 added', { since: a0 });
    bob.say('#hive', '!note 1');
    await expectPrivmsg(bob, 'hivebot', '#hive', /^note 1 by bob, .*: ship it on b$/, { since: b0 });
    // The answers went only where they were asked: the bridge relays talk, not the bot's answers.
    await sleep(300);
    expect(privmsgsFrom(alice, 'hivebot', '#hive', a0).map((l) => plainText(l.params[1]!)).filter((t) => t.startsWith('note '))).toEqual(['note 1 added']);
  });

  it('answers with autorespond on the network whose rule matched, edited only with the capability', async () => {
    const [a0, b0] = [alice.mark(), bob.mark()];
    bob.say('#hive', '!ar add /friday/i not on b');
    await expectPrivmsg(bob, 'hivebot', '#hive', "ar: adding rules needs the capability 'autorespond.edit'", { since: b0 });
    alice.say('#hive', '!ar add /\\bfriday\\b/i no deploys on friday');
    await expectPrivmsg(alice, 'hivebot', '#hive', 'rule 1 added', { since: a0 });
    dave.say('#hive', 'shall we deploy on Friday?');
    await expectPrivmsg(alice, 'hivebot', '#hive', 'no deploys on friday', { since: a0 });
    // Rules are per network: the relay of dave's line to b is the bot's own, and bob's own line
    // on b matches no rule of b's.
    await expectRelay(bob, '<dave> shall we deploy on Friday?', b0);
    bob.say('#hive', 'friday it is');
    await expectRelay(alice, '<bob> friday it is', a0);
    await sleep(1500);
    expect(privmsgsFrom(bob, 'hivebot', '#hive', b0).map((l) => plainText(l.params[1]!)).filter((t) => t === 'no deploys on friday')).toEqual([]);
    expect(privmsgsFrom(alice, 'hivebot', '#hive', a0).map((l) => l.params[1]).filter((t) => t === 'no deploys on friday')).toHaveLength(1);
  });

  it('alerts a subscriber and an absent mentioned user in private, not for relays or own lines', async () => {
    const [d0, c0] = [dave.mark(), carol.mark()];
    dave.say('hivebot', 'subscribe release');
    await expectPrivmsg(dave, 'hivebot', 'dave', "subscribed to 'release'", { since: d0 });
    alice.say('#hive', 'the release is ready');
    await expectPrivmsg(dave, 'hivebot', 'dave', '[#hive] <alice> the release is ready', { since: d0 });
    alice.say('#hive', 'carol should look at it');
    await expectPrivmsg(carol, 'hivebot', 'carol', '[#hive] <alice> carol should look at it', { since: c0 });
    // A line from b arrives on a as the bot's relay: that is the bot speaking, not an alert.
    bob.say('#hive', 'release notes for carol are up');
    await expectRelay(alice, '<bob> release notes for carol are up', 0);
    dave.say('#hive', 'my own release line');
    await sleep(1000);
    expect(privmsgsFrom(dave, 'hivebot', 'dave', d0).map((l) => l.params[1])).toEqual(["subscribed to 'release'", '[#hive] <alice> the release is ready']);
    expect(privmsgsFrom(carol, 'hivebot', 'carol', c0).map((l) => l.params[1])).toEqual(['[#hive] <alice> carol should look at it']);
  });
});
