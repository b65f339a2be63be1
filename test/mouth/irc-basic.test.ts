// The mouth on a real ngIRCd, seen from a raw-socket client: joining and answering commands,
// alternate nick when the nick is taken, and bytes from the server that are not valid UTF-8.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startNgircd, type Ircd } from '../helpers/ircd.js';
import { connectClient, type IrcTestClient } from '../helpers/irc-client.js';
import { startHive, type TestHive } from '../helpers/hive.js';
import { botJoined, exec, expectPrivmsg, ircNetwork, privmsgsFrom, sendBytes, waitForNodeLog } from './util.js';
import { sleep } from '../helpers/wait.js';

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

async function client(nick: string, channels: string[] = []): Promise<IrcTestClient> {
  const c = await connectClient({ host: ircd.host, port: ircd.port, nick });
  clients.push(c);
  for (const ch of channels) await c.join(ch);
  return c;
}

describe('mouth on ngIRCd', () => {
  it('joins its channels and answers !ping, an addressed command and a private message', async () => {
    const alice = await client('alice', ['#one', '#two']);
    hive = await startHive({
      networks: { net: ircNetwork(ircd, { nick: 'hivebot', channels: ['#one', '#two'] }) },
      plugins: [{ name: 'ping', use: 'ping' }],
    });
    await botJoined(alice, 'hivebot', '#one');
    await botJoined(alice, 'hivebot', '#two');

    let since = alice.mark();
    alice.say('#one', '!ping');
    await expectPrivmsg(alice, 'hivebot', '#one', 'pong', { since });
    alice.say('#two', '!ping');
    await expectPrivmsg(alice, 'hivebot', '#two', 'pong', { since });

    since = alice.mark();
    alice.say('#two', 'hivebot: ping');
    await expectPrivmsg(alice, 'hivebot', '#two', 'pong', { since });

    since = alice.mark();
    alice.say('hivebot', 'ping');
    await expectPrivmsg(alice, 'hivebot', 'alice', 'pong', { since });

    // Ordinary talk gets no answer; each answer went to the channel it was asked in, once.
    alice.say('#one', 'just chatting about ping');
    await sleep(300);
    expect(privmsgsFrom(alice, 'hivebot', '#one').map((l) => l.params[1])).toEqual(['pong']);
    expect(privmsgsFrom(alice, 'hivebot', '#two').map((l) => l.params[1])).toEqual(['pong', 'pong']);
    expect(privmsgsFrom(alice, 'hivebot', 'alice').map((l) => l.params[1])).toEqual(['pong']);
  });

  it('registers with the alternate nick when its nick is in use', async () => {
    // The raw client holds the bot's nick first.
    const holder = await client('hivebot', ['#one']);
    hive = await startHive({
      networks: { net: ircNetwork(ircd, { nick: 'hivebot', alt_nicks: ['hivealt'] }) },
      plugins: [{ name: 'ping', use: 'ping' }],
    });
    await botJoined(holder, 'hivealt', '#one');
    const since = holder.mark();
    holder.send('NAMES #one');
    const names = await holder.waitFor((l) => l.command === '353', { since });
    expect(names.params.at(-1)!.split(' ').map((n) => n.replace(/^[@+]/, '')).sort()).toEqual(['hivealt', 'hivebot']);
    // It answers under the alternate nick, addressed by that nick too.
    holder.say('#one', 'hivealt: ping');
    await expectPrivmsg(holder, 'hivealt', '#one', 'pong', { since });
    const registered = await waitForNodeLog(hive, 'mouth', 'registered');
    expect(registered.nick).toBe('hivealt');
  });

  it('passes a line that is not valid UTF-8 to the plugins byte for byte, and keeps working', async () => {
    const bob = await client('bob', ['#one']);
    hive = await startHive({
      networks: { net: ircNetwork(ircd) },
      plugins: [{ name: 'ping', use: 'ping' }, { name: 'recorder', exec: exec('recorder') }],
    });
    await botJoined(bob, 'hivebot', '#one');
    // Latin-1 text, a lone continuation byte, a truncated 3-byte sequence, an overlong '/' and 0xff.
    const text = Buffer.concat([Buffer.from('bad '), Buffer.from('caf\xe9 \x80 \xe2\x82 \xc0\xaf \xff\xfe', 'latin1'), Buffer.from(' end')]);
    sendBytes(bob, Buffer.concat([Buffer.from('PRIVMSG #one :'), text]));
    // A line of valid text right after it.
    bob.say('#one', 'after the bad bytes');
    const seen = await waitForNodeLog(hive, 'recorder', 'seen', (l) => String(l.text).includes('PRIVMSG #one :bad '));
    const bytes = Buffer.from(String(seen.hex), 'hex');
    expect(bytes.subarray(bytes.length - text.length)).toEqual(text);
    expect(bytes.subarray(0, bytes.length - text.length).toString('latin1')).toMatch(/^:bob!\S+ PRIVMSG #one :$/);
    await waitForNodeLog(hive, 'recorder', 'seen', (l) => String(l.text).endsWith('PRIVMSG #one :after the bad bytes'));
    // Commands made of invalid bytes get no answer but break nothing.
    sendBytes(bob, Buffer.from('PRIVMSG #one :!\xff\xfe', 'latin1'));
    sendBytes(bob, Buffer.from('PRIVMSG #one :!ping \xc3', 'latin1'));
    const since = bob.mark();
    bob.say('#one', '!ping');
    await expectPrivmsg(bob, 'hivebot', '#one', 'pong', { since });
    const tree = await hive.tree();
    expect(tree.every((n) => n.state === 'running' && n.restarts === 0)).toBe(true);
  });

  it('answers CTCP VERSION and PING, and rejoins after a kick once rejoin_delay has passed', async () => {
    const op = await client('opal', ['#kick']); // first in: channel operator
    hive = await startHive({
      networks: { net: ircNetwork(ircd, { channels: ['#kick'], rejoin_delay: 500 }) },
      plugins: [{ name: 'ping', use: 'ping' }],
    });
    await botJoined(op, 'hivebot', '#kick');
    let since = op.mark();
    op.say('hivebot', '\x01VERSION\x01');
    const version = await op.waitFor((l) => l.command === 'NOTICE' && l.nick === 'hivebot', { since });
    expect(version.params[1]).toMatch(/^\x01VERSION .+\x01$/);
    since = op.mark();
    op.say('hivebot', '\x01PING 12345\x01');
    const pong = await op.waitFor((l) => l.command === 'NOTICE' && l.nick === 'hivebot', { since });
    expect(pong.params[1]).toBe('\x01PING 12345\x01');

    since = op.mark();
    op.send('KICK #kick hivebot :out');
    await op.waitFor((l) => l.command === 'KICK' && l.params[1] === 'hivebot', { since });
    const rejoined = await botJoined(op, 'hivebot', '#kick', { since });
    // The delay is checked against the mouth's own decision, not the gap between the test's reads of
    // KICK and JOIN (a stall in the test process shrinks or stretches that). The mouth logged the
    // delay it chose, and the JOIN cannot reach the test before the mouth's timer has run from that
    // log line, so this lower bound holds on any machine; no upper bound (that was a latency bound).
    const decided = await waitForNodeLog(hive, 'mouth', 'kicked; rejoining later', (l) => String(l.channel).toLowerCase() === '#kick');
    expect(decided.delayMs).toBe(500);
    expect(rejoined.at - (decided.time as number)).toBeGreaterThanOrEqual(450);
    op.say('#kick', '!ping');
    await expectPrivmsg(op, 'hivebot', '#kick', 'pong', { since });
  });

  it('holds two networks in one mouth and answers each on the network it was asked on', async () => {
    const carol = await client('carol', ['#one', '#two']);
    hive = await startHive({
      networks: {
        first: ircNetwork(ircd, { nick: 'hivea', channels: ['#one'] }),
        second: ircNetwork(ircd, { nick: 'hiveb', channels: ['#two'] }),
      },
      plugins: [{ name: 'ping', use: 'ping' }],
    });
    await botJoined(carol, 'hivea', '#one');
    await botJoined(carol, 'hiveb', '#two');
    const since = carol.mark();
    carol.say('#one', '!ping');
    await expectPrivmsg(carol, 'hivea', '#one', 'pong', { since });
    carol.say('#two', '!ping');
    await expectPrivmsg(carol, 'hiveb', '#two', 'pong', { since });
    await sleep(200);
    expect(carol.lines.slice(since).filter((l) => l.command === 'PRIVMSG').map((l) => `${l.nick} ${l.params.join(' ')}`)).toEqual(['hivea #one pong', 'hiveb #two pong']);
  });
});
