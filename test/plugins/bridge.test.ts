// The bridge plugin in a real tree: two ngIRCd servers (networks a and b) and the terminal
// network in one hive. A group bridges a/#hive, b/#hive and console/#console; a second bridge
// node relays joins and quits between a/#ev and b/#ev, and also to a network that does not exist.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNgircd, type Ircd } from '../helpers/ircd.js';
import { connectClient, type IrcLine, type IrcTestClient } from '../helpers/irc-client.js';
import { startHive, type TestHive } from '../helpers/hive.js';
import { waitFor, sleep } from '../helpers/wait.js';
import { botJoined, ircNetwork, privmsgsFrom, waitForNodeLog } from '../mouth/util.js';
import { colourOf, plainText } from '../../plugins/bridge/format.js';

let ircdA: Ircd;
let ircdB: Ircd;
let hive: TestHive;
let alice: IrcTestClient; // on server A
let bob: IrcTestClient; // on server B
const clients: IrcTestClient[] = [];

async function client(ircd: Ircd, nick: string, channels: string[]): Promise<IrcTestClient> {
  const c = await connectClient({ host: ircd.host, port: ircd.port, nick });
  clients.push(c);
  for (const ch of channels) await c.join(ch);
  return c;
}

/** Relays the bot made into `channel` on that client's server, as a reader sees them. */
const relays = (c: IrcTestClient, channel: string, since = 0) => privmsgsFrom(c, 'hivebot', channel, since).map((l) => plainText(l.params[1]!));

/** Waits for a relay whose visible text is `text`; returns the raw line. */
const expectRelay = (c: IrcTestClient, channel: string, text: string, since = 0): Promise<IrcLine> =>
  c.waitFor((l) => l.command === 'PRIVMSG' && l.nick === 'hivebot' && l.params[0] === channel && plainText(l.params[1]!) === text, { since, timeout: 15_000 });

const expectStdout = (text: string, since = 0) =>
  waitFor(() => hive.stdout.slice(since).some((l) => plainText(l) === text), { timeout: 15_000, what: `stdout "${text}" (got: ${hive.stdout.slice(since).join(' | ')})` });

const stdoutPlain = (since = 0) => hive.stdout.slice(since).map(plainText);

/** The colour code the bridge gives a nick, as it appears on the wire. */
const code = (nick: string) => `\x03${String(colourOf(nick)).padStart(2, '0')}`;

beforeAll(async () => {
  [ircdA, ircdB] = await Promise.all([startNgircd(), startNgircd()]);
  [alice, bob] = await Promise.all([client(ircdA, 'alice', ['#hive', '#ev', '#side']), client(ircdB, 'bob', ['#hive', '#ev'])]);
  hive = await startHive({
    networks: {
      a: ircNetwork(ircdA, { channels: ['#hive', '#ev', '#side'] }),
      b: ircNetwork(ircdB, { channels: ['#hive', '#ev'], rejoin_delay: 300 }),
      console: { type: 'terminal', quiet_ms: 200 },
    },
    plugins: [
      { name: 'bridge', use: 'bridge', config: { groups: { devs: ['a/#hive', 'b/#hive', 'console/#console', 'a/#side'] }, plain: ['console'] } },
      { name: 'evbridge', use: 'bridge', config: { groups: { ev: ['a/#ev', 'b/#ev', 'ghost/#ev'] }, events: { joins: true, parts: true, quits: true } } },
    ],
  });
  await Promise.all([
    botJoined(alice, 'hivebot', '#hive'), botJoined(alice, 'hivebot', '#ev'), botJoined(alice, 'hivebot', '#side'),
    botJoined(bob, 'hivebot', '#hive'), botJoined(bob, 'hivebot', '#ev'),
  ]);
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await hive?.stop();
  await Promise.all([ircdA?.stop(), ircdB?.stop()]);
});

describe('bridge across two IRC servers and the terminal', () => {
  it('relays messages, actions and terminal lines everywhere else, exactly once, with a stable nick colour', async () => {
    const a0 = alice.mark();
    const b0 = bob.mark();
    const o0 = hive.stdout.length;

    alice.say('#hive', 'hello');
    const first = await expectRelay(bob, '#hive', '<alice> hello', b0);
    await expectStdout('<alice> hello', o0);
    // Only the nick is coloured, with a zero-width space inside so that alice is not highlighted.
    expect(first.params[1]).toBe(`<${code('alice')}a\u200blice\x03> hello`);
    // The terminal gets no colour codes (plain: [console]) but the same text.
    expect(hive.stdout.slice(o0)).toContain('<a\u200blice> hello');

    alice.say('#hive', 'second line');
    const second = await expectRelay(bob, '#hive', '<alice> second line', b0);
    expect(second.params[1]!.startsWith(`<${code('alice')}a`)).toBe(true);

    bob.say('#hive', 'hi alice');
    const reply = await expectRelay(alice, '#hive', '<bob> hi alice', a0);
    expect(reply.params[1]).toBe(`<${code('bob')}b\u200bob\x03> hi alice`);
    await expectStdout('<bob> hi alice', o0);

    hive.say('typed at the terminal');
    await expectRelay(alice, '#hive', '<you> typed at the terminal', a0);
    await expectRelay(bob, '#hive', '<you> typed at the terminal', b0);

    alice.say('#hive', '\x01ACTION waves\x01');
    const action = await expectRelay(bob, '#hive', '* alice waves', b0);
    expect(action.params[1]).toBe(`* ${code('alice')}a\u200blice\x03 waves`);
    await expectStdout('* alice waves', o0);

    // A CTCP other than ACTION, and a private message to the bot, are not relayed.
    alice.say('#hive', '\x01VERSION\x01');
    alice.say('hivebot', 'just for you');
    bob.say('#hive', 'last one');
    await expectRelay(alice, '#hive', '<bob> last one', a0);
    await expectStdout('<bob> last one', o0);
    await sleep(500);

    // Each line once on each other side; nothing of the bot's own relays came back.
    expect(relays(bob, '#hive', b0)).toEqual(['<alice> hello', '<alice> second line', '<you> typed at the terminal', '* alice waves']);
    expect(relays(alice, '#hive', a0)).toEqual(['<bob> hi alice', '<you> typed at the terminal', '<bob> last one']);
    expect(stdoutPlain(o0)).toEqual(['<alice> hello', '<alice> second line', '<bob> hi alice', '* alice waves', '<bob> last one']);
    expect(privmsgsFrom(alice, 'hivebot', 'alice', a0)).toEqual([]);
    // a/#side is on the same network as a/#hive: it gets everything once, and nothing loops.
    expect(relays(alice, '#side', a0)).toEqual(['<alice> hello', '<alice> second line', '<bob> hi alice', '<you> typed at the terminal', '* alice waves', '<bob> last one']);
  });

  it('splits a long relay by the mouth\'s rules, and it arrives whole', async () => {
    const b0 = bob.mark();
    const o0 = hive.stdout.length;
    const words = Array.from({ length: 63 }, (_, i) => `w${String(i).padStart(4, '0')}`).join(' ');
    const text = `${words} ${'z'.repeat(400 - words.length - 2)}!`;
    expect(text).toHaveLength(400);
    alice.say('#hive', text);
    // The last part ends with the end of the text.
    await bob.waitFor((l) => l.command === 'PRIVMSG' && l.nick === 'hivebot' && l.params[1]!.endsWith('zz!'), { since: b0, timeout: 15_000 });
    const parts = relays(bob, '#hive', b0);
    expect(parts.length).toBeGreaterThan(1);
    for (const l of privmsgsFrom(bob, 'hivebot', '#hive', b0)) expect(Buffer.byteLength(l.raw)).toBeLessThanOrEqual(510);
    // The mouth cuts at a space and leaves it at the end of the first part, but ngIRCd strips
    // trailing spaces: the parts join with that one space put back.
    expect(parts.map((p) => p.trim()).join(' ')).toBe(`<alice> ${text}`);
    // The terminal has no line limit to speak of: one line.
    await expectStdout(`<alice> ${text}`, o0);
  });

  it('relays joins, parts and quits only where enabled, never the bot\'s own; a network that refuses is logged and counted, the others still get it', async () => {
    const b0 = bob.mark();
    const a0 = alice.mark();
    const o0 = hive.stdout.length;
    // The bot's own part and join are not relayed: bob kicks it from B's #ev and it comes back.
    bob.send('KICK #ev hivebot :out');
    await botJoined(bob, 'hivebot', '#ev', { since: b0 });
    const carol = await client(ircdA, 'carol', ['#hive', '#ev']);
    await expectRelay(bob, '#ev', '* carol has joined', b0);
    // evbridge also relays to ghost/#ev, a network the mouth does not have.
    const failed = await waitForNodeLog(hive, 'evbridge', 'relay failed', (l) => l.network === 'ghost', 15_000);
    expect(JSON.stringify(failed)).toMatch(/ghost/);

    await carol.quit('gone fishing');
    // ngIRCd puts the reason of a QUIT in quotes.
    await bob.waitFor((l) => l.command === 'PRIVMSG' && l.nick === 'hivebot' && l.params[0] === '#ev' && /^\* carol has quit \("?gone fishing"?\)$/.test(plainText(l.params[1]!)), { since: b0, timeout: 15_000 });
    await sleep(500);
    // The devs group relays no joins or quits (the default).
    expect(relays(bob, '#hive', b0)).toEqual([]);
    expect(stdoutPlain(o0)).toEqual([]);
    expect(relays(bob, '#ev', b0)).toEqual(['* carol has joined', expect.stringMatching(/^\* carol has quit/)]);
    expect(relays(alice, '#ev', a0)).toEqual([]);

    const ev = await hive.node('evbridge');
    expect(ev.counters.relay_failed).toBeGreaterThanOrEqual(2);
    expect(ev.counters.relayed).toBeGreaterThanOrEqual(2);
    expect(ev.state).toBe('running');
    expect((await hive.node('bridge')).counters.relay_failed).toBe(0);
  });

  it('does not loop when one channel is reached through two of its own connections', async () => {
    // a and a2 are both server A, so a/#loop and a2/#loop are the same channel: each relay of one
    // bot nick is seen by the other, which must recognise it as its own.
    // dave is in first, so that he sees the bots join.
    const dave = await client(ircdA, 'dave', ['#loop']);
    const loop = await startHive({
      networks: {
        a: ircNetwork(ircdA, { nick: 'loopone', channels: ['#loop'] }),
        a2: ircNetwork(ircdA, { nick: 'looptwo', channels: ['#loop'] }),
      },
      plugins: [{ name: 'bridge', use: 'bridge', config: { groups: { loop: ['a/#loop', 'a2/#loop'] } } }],
    });
    try {
      await botJoined(dave, 'loopone', '#loop');
      await botJoined(dave, 'looptwo', '#loop');
      const d0 = dave.mark();
      dave.say('#loop', 'around and around?');
      await dave.waitFor((l) => l.command === 'PRIVMSG' && l.nick === 'looptwo', { since: d0, timeout: 15_000 });
      await dave.waitFor((l) => l.command === 'PRIVMSG' && l.nick === 'loopone', { since: d0, timeout: 15_000 });
      await sleep(1500);
      // Each connection relays dave's line to the other once (the misconfiguration's price), and then it stops.
      const seen = dave.lines.slice(d0).filter((l) => l.command === 'PRIVMSG').map((l) => `${l.nick} ${plainText(l.params[1]!)}`).sort();
      expect(seen).toEqual(['loopone <dave> around and around?', 'looptwo <dave> around and around?']);
    } finally {
      await loop.stop();
    }
  });
});
