// The XMPP network against a hostile server and hostile users. A fake server (here, on purpose:
// only to be hostile) answers each connection with one misdeed — malformed XML after the stream
// opens, an element that never ends, silence — and the mouth must survive each, count it and
// reconnect; the last connection is passed to the real Prosody, where the bot then answers. On
// Prosody itself: a huge message, a message of too many lines, an odd nick, a forged real JID, and
// one occupant's flood of commands, which fills only their own share of the queue.
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startProsody, type Prosody } from '../helpers/prosody.js';
import { connectXmpp, xml, type XmppTestClient } from '../helpers/xmpp-client.js';
import { startHive, type TestHive } from '../helpers/hive.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { exec, logsOf, waitForNodeLog } from './util.js';
import { BOT, bodiesFrom, botInRoom, expectBody, xmppNetwork } from './xmpp-util.js';

let prosody: Prosody;
let hive: TestHive | undefined;
const clients: XmppTestClient[] = [];
let rooms = 0;
const newRoom = () => `bad${++rooms}@conference.localhost`;

beforeAll(async () => {
  prosody = await startProsody();
  await prosody.register(BOT.user, BOT.password);
  for (const u of ['alice', 'bob', 'carol']) await prosody.register(u, 'pw');
});
afterAll(async () => { await prosody?.stop(); });
afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail' && hive) process.stderr.write(hive.logs.filter((l) => l.node === 'mouth').map((l) => JSON.stringify(l)).slice(-40).join('\n') + '\n');
  for (const c of clients.splice(0)) await c.close();
  await hive?.stop();
  hive = undefined;
});

async function client(user: string): Promise<XmppTestClient> {
  const c = await connectXmpp(prosody, user, 'pw');
  clients.push(c);
  return c;
}

const HEADER = `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='evil' from='localhost' version='1.0' xml:lang='en'>`;
type Misdeed = 'garbage' | 'endless' | 'silent' | 'proxy';

/** A server whose n-th connection does misdeeds[n] (the last one again for any after). */
async function hostileServer(misdeeds: Misdeed[]): Promise<{ port: number; seen: Misdeed[]; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const seen: Misdeed[] = [];
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => sock.destroy());
    const what = misdeeds[Math.min(seen.length, misdeeds.length - 1)]!;
    seen.push(what);
    if (what === 'proxy') {
      const up = net.connect({ host: prosody.host, port: prosody.port });
      up.on('error', () => up.destroy());
      up.on('close', () => sock.destroy());
      sock.on('close', () => up.destroy());
      sock.pipe(up);
      up.pipe(sock);
      return;
    }
    sock.once('data', () => {
      if (what === 'silent') return;
      sock.write(HEADER);
      if (what === 'garbage') {
        sock.write(`<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>`);
        sock.write(`<message from='x@localhost'><body>hi</bod></message><<<&&&>>>`);
        return;
      }
      // endless: one element that never ends, 64 KiB at a time, as long as the bot reads.
      sock.write(`<message from='x@localhost'><body>`);
      const chunk = 'A'.repeat(65_536);
      const more = () => { while (!sock.destroyed && sock.write(chunk)); };
      sock.on('drain', more);
      more();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as net.AddressInfo).port,
    seen,
    close: () => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }),
  };
}

describe('XMPP hostile', () => {
  it('survives a server that sends malformed XML, an element that never ends, or nothing; counts each and reconnects', async () => {
    const room = newRoom();
    const alice = await client('alice');
    await alice.join(room, 'alice');
    const evil = await hostileServer(['garbage', 'endless', 'silent', 'proxy']);
    try {
      hive = await startHive({
        networks: { xmpp: xmppNetwork({ host: '127.0.0.1', port: evil.port, domain: 'localhost' }, { rooms: [room], connect_timeout: 2500, reconnect: { min_delay: 50, max_delay: 200 } }) },
        plugins: [{ name: 'ping', use: 'ping' }],
      });
      await botInRoom(alice, room, 'hivebot', { timeout: 20_000 });
      const since = alice.mark();
      await alice.groupchat(room, '!ping');
      await expectBody(alice, `${room}/hivebot`, 'pong', { since });
      expect(evil.seen.slice(0, 4)).toEqual(['garbage', 'endless', 'silent', 'proxy']);
      // (Under load a login through the proxy may itself take longer than connect_timeout: one more drop, one more connect.)
      const extra = evil.seen.length - 4;
      const mouth = await hive.node('mouth');
      expect(mouth.restarts).toBe(0);
      expect(mouth.counters['xmpp.malformed']).toBe(1);
      // The malformed XML, the endless element, the silent server.
      expect(mouth.counters['xmpp.hostile_drops']).toBe(3 + extra);
      expect(mouth.counters['xmpp.connects']).toBe(4 + extra);
      expect(mouth.counters['xmpp.identified']).toBe(1);
      const reasons = logsOf(hive, 'mouth').filter((l) => l.msg === 'disconnected; reconnecting').map((l) => String(l.reason));
      expect(reasons[0]).toMatch(/malformed XML/);
      expect(reasons[1]).toMatch(/^StanzaTooLong/);
      expect(reasons[2]).toMatch(/not online within 2500 ms/);
    } finally {
      await evil.close();
    }
  });

  it('drops a huge message and the lines past the 64th, maps an odd nick, and keeps one flooding occupant to their share', async () => {
    const room = newRoom();
    const alice = await client('alice');
    await alice.join(room, 'alice');
    hive = await startHive({
      // A slow rate: what the bucket lets out before bob's !ping reaches the mouth (later on a loaded
      // machine; at 20 a second, 11 answers once) must stay well under a round plus the burst.
      networks: { xmpp: xmppNetwork(prosody, { rooms: [room], flood: { burst: 3, rate: 2 }, queue_max: 100 }) },
      plugins: [{ name: 'ping', use: 'ping' }, { name: 'recorder', exec: exec('recorder') }],
    });
    await botInRoom(alice, room);
    const chan = `#${room}`;
    await alice.groupchat(room, 'x'.repeat(100_000));
    await alice.groupchat(room, Array.from({ length: 100 }, (_, i) => `line ${i + 1}`).join('\n'));
    await waitForNodeLog(hive, 'recorder', 'seen', (l) => String(l.text).endsWith(' :line 64'));
    await sleep(300);
    const texts = logsOf(hive, 'recorder').filter((l) => l.msg === 'seen').map((l) => String(l.text));
    expect(texts.some((t) => t.includes('xxxxxxxx'))).toBe(false);
    expect(texts.filter((t) => /:line \d+$/.test(t))).toHaveLength(64);
    let mouth = await hive.node('mouth');
    expect(mouth.counters['xmpp.too_long']).toBe(2);

    // A headline, and a message from another resource of the bot's own account: nobody's line.
    await alice.send(xml('message', { to: `${BOT.user}@localhost`, type: 'headline' }, xml('body', {}, 'headline news')));
    const twin = await connectXmpp(prosody, BOT.user, BOT.password, 'twin');
    clients.push(twin);
    await twin.chat(`${BOT.user}@localhost/hive`, 'from my twin');
    await alice.chat(`${BOT.user}@localhost`, 'after them');
    await waitForNodeLog(hive, 'recorder', 'seen', (l) => String(l.text).endsWith(':after them'));
    expect(logsOf(hive, 'recorder').some((l) => /headline news|from my twin/.test(String(l.text)))).toBe(false);

    const odd = await client('carol');
    await odd.join(room, '9 lives! ☺');
    await waitForNodeLog(hive, 'recorder', 'seen', (l) => l.text === `:_9_lives___!carol@localhost JOIN ${chan}`);
    await odd.groupchat(room, '!ping');
    await expectBody(odd, `${room}/hivebot`, 'pong');

    // alice floods !ping; bob's one !ping is answered within a round, not after all of hers.
    const bob = await client('bob');
    await bob.join(room, 'bob');
    // A message claiming another's real JID (<x muc#user><item jid>: the room passes it on) does not make it theirs.
    await bob.groupchat(room, 'i am alice', [xml('x', { xmlns: 'http://jabber.org/protocol/muc#user' }, xml('item', { jid: 'alice@localhost/x' }))]);
    await waitForNodeLog(hive, 'recorder', 'seen', (l) => l.text === `:bob!bob@localhost PRIVMSG ${chan} :i am alice`);
    expect(logsOf(hive, 'recorder').find((l) => String(l.text).endsWith(':i am alice'))!.account).toBe('bob@localhost');

    const since = bob.mark();
    await Promise.all(Array.from({ length: 40 }, () => alice.groupchat(room, '!ping')));
    await bob.groupchat(room, '!ping');
    const bot = `${room}/hivebot`;
    await waitFor(() => bob.stanzas.slice(since).some((s) => s.is('message') && s.attrs.from === bot && s.getChild('reply', 'urn:xmpp:reply:0')?.attrs.to === `${room}/bob`), { what: "bob's pong" });
    await sleep(1000);
    const answers = bob.stanzas.slice(since).filter((s) => s.is('message') && s.attrs.from === bot);
    const bobAt = answers.findIndex((s) => s.getChild('reply', 'urn:xmpp:reply:0')?.attrs.to === `${room}/bob`);
    mouth = await hive.node('mouth');
    // Her share of ping's queue is max(2, 100/50) = 2 at a time: the rest of her flood was refused.
    expect(mouth.counters['xmpp.refused_UserShare']).toBeGreaterThan(20);
    expect(answers.length).toBeLessThan(20);
    expect(bobAt, `bob's pong was answer ${bobAt} of ${answers.length}`).toBeLessThan(10);
    // (What else the bot said is the SDK telling of refused answers: "ping: failed (QueueFull: UserShare …)".)
    expect(bodiesFrom(bob, bot, since).every((b) => b === 'pong' || b.startsWith('ping: failed'))).toBe(true);
  });
});
