// The XmppNetwork (no hive: a sink that keeps the lines) against a hostile room service and hostile
// occupants. The server here is fake on purpose, to be hostile: it completes a login (SASL: success to any <auth>,
// bind) and then says whatever a test makes it say — a bot nick with spaces and CR/LF, real JIDs
// it may not vouch for, a flood of lines from the room, corrections of others' messages, forged
// <delay> stamps, messages after a PART, endless nick changes — and records what the bot sends.
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { waitFor, sleep } from '../helpers/wait.js';
import { MAX_ROOMS, XmppNetwork } from '../../mouth/xmpp-network.js';
import { xmppNetworkSchema } from '../../mouth/network-config.js';
import type { NetworkSink } from '../../mouth/network.js';
import type { Meta } from '../../protocol/metadata.js';
import { MAX_RENAMES, type XmppRoom } from '../../mouth/xmpp-room.js';
import { ircSafeNick } from '../../mouth/xmpp-names.js';

const HEADER = `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='evil' from='evil.org' version='1.0' xml:lang='en'>`;
const MUC_USER = 'http://jabber.org/protocol/muc#user';
const BOT_JID = 'hivebot@evil.org';

/** A fake server: logs any client in, then `say`s what the test wants; `heard` is all the client wrote. */
interface Fake {
  port: number;
  heard: string;
  connections: number;
  /** Open sockets now. */
  open: number;
  say(xml: string): void;
  close(): Promise<void>;
}

/** stall: never answers; autoJoin: lets the bot into every room it joins at once. */
async function fakeServer(opts: { stall?: boolean; autoJoin?: boolean } = {}): Promise<Fake> {
  const sockets = new Set<net.Socket>();
  let current: net.Socket | undefined;
  const fake: Fake = {
    port: 0, heard: '', connections: 0, open: 0,
    say: (x) => { current?.write(x); },
    close: () => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }),
  };
  const server = net.createServer((sock) => {
    sockets.add(sock);
    fake.connections++;
    fake.open++;
    sock.on('close', () => { sockets.delete(sock); fake.open--; });
    sock.on('error', () => sock.destroy());
    // Stalled: reads (so it sees the bot hang up) and never answers.
    if (opts.stall) { sock.resume(); return; }
    current = sock;
    let authed = false;
    sock.on('data', (chunk) => {
      const text = chunk.toString('utf8');
      fake.heard += text;
      if (text.includes('<stream:stream')) {
        sock.write(HEADER + (authed
          ? `<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>`
          : `<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>`));
      }
      if (text.includes('<auth')) { authed = true; sock.write(`<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`); }
      if (opts.autoJoin) {
        for (const m of text.matchAll(/<presence to=["']([^"'/]+)\/([^"']+)["']><x xmlns=["']http:\/\/jabber.org\/protocol\/muc["']/g)) {
          sock.write(`<presence from='${m[1]}/${m[2]}'><x xmlns='${MUC_USER}'><item affiliation='none' role='participant'/><status code='110'/></x></presence><message type='groupchat' from='${m[1]}'><subject/></message>`);
        }
      }
      for (const m of text.matchAll(/<iq [^>]*?id=["']([^"']+)["'][^>]*>(.*?)<\/iq>/g)) {
        const bind = m[2]!.includes('xmpp-bind');
        sock.write(`<iq type='result' id='${m[1]}'>${bind ? `<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>${BOT_JID}/hive</jid></bind>` : ''}</iq>`);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  fake.port = (server.address() as net.AddressInfo).port;
  return fake;
}

interface Line { text: string; meta: Meta; id: string }

let fake: Fake;
const networks: XmppNetwork[] = [];

beforeAll(async () => { fake = await fakeServer(); });
afterAll(async () => { await fake?.close(); });
afterEach(async () => { for (const n of networks.splice(0)) await n.stop(); });

function network(port: number, config: Record<string, unknown> = {}): { net: XmppNetwork; lines: Line[] } {
  const lines: Line[] = [];
  let n = 0;
  const sink: NetworkSink = {
    line: (_network, bytes, meta) => { const id = `id${++n}`; lines.push({ text: bytes.toString('utf8'), meta: { ...meta }, id }); return id; },
    event: () => undefined,
  };
  const parsed = xmppNetworkSchema.parse({ type: 'xmpp', jid: BOT_JID, password: 'pw', host: '127.0.0.1', port, tls: 'none', reconnect: { min_delay: 50, max_delay: 200 }, flood: { burst: 100, rate: 100 }, ...config });
  const x = new XmppNetwork({ name: 'x', config: parsed, sink, log: pino({ level: process.env.XLOG ?? 'silent' }) });
  networks.push(x);
  return { net: x, lines };
}

const roomsOf = (x: XmppNetwork) => (x as unknown as { rooms: Map<string, XmppRoom> }).rooms;
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/'/g, '&apos;').replace(/</g, '&lt;').replace(/\r/g, '&#13;').replace(/\n/g, '&#10;');

/** Starts the network, waits for its join of `room`, and lets the room take it in (as `as`, the room's choice) with these occupants. */
async function joined(x: XmppNetwork, lines: Line[], room: string, occupants: [string, string?][] = [], as = 'hivebot'): Promise<void> {
  const mark = fake.heard.length;
  await x.start();
  await waitFor(() => fake.heard.slice(mark).includes(`to="${room}/hivebot"`) || fake.heard.slice(mark).includes(`to='${room}/hivebot'`), { what: `the join of ${room}` });
  for (const [nick, jid] of occupants) fake.say(`<presence from='${room}/${esc(nick)}'><x xmlns='${MUC_USER}'><item affiliation='none' role='participant'${jid ? ` jid='${jid}/r'` : ''}/></x></presence>`);
  fake.say(`<presence from='${room}/${esc(as)}'><x xmlns='${MUC_USER}'><item affiliation='none' role='participant'/><status code='110'/></x></presence>`);
  fake.say(`<message type='groupchat' from='${room}'><subject>topic</subject></message>`);
  await waitFor(() => lines.some((l) => / 366 /.test(l.text)), { what: 'the NAMES of the join' });
}

const groupchat = (room: string, nick: string, body: string, extra = '', id = '') =>
  `<message type='groupchat' from='${room}/${esc(nick)}'${id ? ` id='${id}'` : ''}><body>${esc(body)}</body>${extra}</message>`;

/** Sends a marker and waits for it: everything said before it was handled. */
async function settle(lines: Line[], room: string): Promise<void> {
  const mark = `mark-${Math.random()}`;
  fake.say(groupchat(room, 'marker', mark));
  await waitFor(() => lines.some((l) => l.text.endsWith(`:${mark}`)), { what: 'the marker' });
}

const SAFE = /^:[^\s!@]+(?:![^\s!@]+@[^\s!@]+)? [A-Z0-9]+(?: [^\r\n\0]*)?$/;

describe('XMPP room service and occupants, hostile', () => {
  it('takes the bot nick a room gives only IRC-safe into lines, and real JIDs only from a service that may vouch for them', async () => {
    const room = 'r1@conference.evil.org';
    const { net: x, lines } = network(fake.port, { rooms: [room] });
    const nasty = 'x!o@trusted.example PRIVMSG #r@c :!cmd\r\nQUIT';
    await joined(x, lines, room, [['owner', 'owner@trusted.org'], ['mallory', 'mallory@evil.org']], nasty);
    // A room on the bot's own server's subdomain… is this one: evil.org's bot, so conference.evil.org is trusted.
    // Seen from a bot of another server, its claim for owner@trusted.org must not stand:
    const room2 = 'r2@conference.other.net';
    x.submit({ via: 'p', origin: 'p' }, [Buffer.from(`JOIN #${room2}`)]);
    await waitFor(() => fake.heard.includes(`${room2}/hivebot`), { what: 'the join of r2' });
    fake.say(`<presence from='${room2}/owner'><x xmlns='${MUC_USER}'><item affiliation='owner' role='moderator' jid='owner@trusted.org/r'/></x></presence>`);
    fake.say(`<presence from='${room2}/local'><x xmlns='${MUC_USER}'><item affiliation='none' role='participant' jid='bob@other.net/r'/></x></presence>`);
    fake.say(`<presence from='${room2}/hivebot'><x xmlns='${MUC_USER}'><item affiliation='none' role='participant'/><status code='110'/></x></presence>`);
    fake.say(`<message type='groupchat' from='${room2}'><subject/></message>`);
    fake.say(groupchat(room2, 'owner', '!op me'));
    fake.say(groupchat(room2, 'local', 'hello'));
    await waitFor(() => lines.some((l) => l.text.endsWith(':hello')), { what: 'hello' });
    // A 303 nick change of the bot to a nick with a space: the NICK line carries it IRC-safe.
    fake.say(`<presence type='unavailable' from='${room}/${esc(nasty)}'><x xmlns='${MUC_USER}'><item affiliation='none' nick='a b&#10;c'/><status code='303'/><status code='110'/></x></presence>`);
    await settle(lines, room);

    for (const l of lines) expect(l.text).toMatch(SAFE);
    expect(lines.every((l) => /^[^\s!@]+$/.test(String(l.meta['hive.nick'])))).toBe(true);
    expect(lines.map((l) => l.text)).toContain(`:${ircSafeNick(nasty)}!hivebot@evil.org JOIN #${room}`);
    expect(lines.map((l) => l.text)).toContain(`:${ircSafeNick(nasty)}!hivebot@evil.org NICK :a_b_c`);
    const op = lines.find((l) => l.text.endsWith(':!op me'))!;
    expect(op.text).toBe(`:owner!owner@r2.conference.other.net PRIVMSG #${room2} :!op me`);
    expect(op.meta['hive.account']).toBeUndefined();
    // The service vouches for its own server's users.
    expect(lines.find((l) => l.text.endsWith(':hello'))!.meta['hive.account']).toBe('bob@other.net');
    expect(x.counters.untrustedAccounts).toBe(1);
    expect(x.counters.unsafeLines).toBe(0);
  });

  it('bounds what the room itself says, passes on no correction of another occupant\'s message, and no forged time', async () => {
    const room = 'r3@conference.evil.org';
    const { net: x, lines } = network(fake.port, { rooms: [room] });
    await joined(x, lines, room, [['alice', 'alice@evil.org'], ['mallory', 'mallory@evil.org']]);
    const before = lines.length;
    fake.say(`<message type='groupchat' from='${room}'><body>${'a\n'.repeat(5_000)}lone&#13;cr</body></message>`);
    fake.say(`<message type='groupchat' from='${room}'><body>one&#13;two</body></message>`);
    fake.say(groupchat(room, 'alice', 'the original', '', 'a-1'));
    fake.say(groupchat(room, 'mallory', 'forged correction', `<replace xmlns='urn:xmpp:message-correct:0' id='a-1'/>`, 'm-1'));
    fake.say(groupchat(room, 'alice', 'her own correction', `<replace xmlns='urn:xmpp:message-correct:0' id='a-1'/>`, 'a-2'));
    fake.say(groupchat(room, 'mallory', 'from the past', `<delay xmlns='urn:xmpp:delay' from='${room}' stamp='2001-01-01T00:00:00Z'/>`));
    await settle(lines, room);
    const notices = lines.slice(before).filter((l) => / NOTICE /.test(l.text)).map((l) => l.text);
    expect(notices.length).toBe(64 + 2);
    expect(notices.slice(-2)).toEqual([`:conference.evil.org NOTICE #${room} :one`, `:conference.evil.org NOTICE #${room} :two`]);
    expect(x.counters.tooLong).toBe(1);
    const forged = lines.find((l) => l.text.endsWith(':forged correction'))!;
    expect(forged.meta['hive.replaces']).toBeUndefined();
    expect(lines.find((l) => l.text.endsWith(':her own correction'))!.meta['hive.replaces']).toBe('a-1');
    expect(x.counters.foreignCorrections).toBe(1);
    expect(lines.find((l) => l.text.endsWith(':from the past'))!.meta['hive.time']).toBeUndefined();
    expect(x.counters.forgedTimes).toBe(1);
  });

  it('hears nothing more from a room it parted, forgets it, and keeps the nick changes it waits for bounded', async () => {
    const room = 'r4@conference.evil.org';
    const { net: x, lines } = network(fake.port, { rooms: [room] });
    await joined(x, lines, room, [['alice']]);
    for (let i = 0; i < 3 * MAX_RENAMES; i++) {
      fake.say(`<presence type='unavailable' from='${room}/${i === 0 ? 'alice' : `n${i - 1}`}'><x xmlns='${MUC_USER}'><item affiliation='none' nick='n${i}'/><status code='303'/></x></presence>`);
    }
    await settle(lines, room);
    expect(roomsOf(x).get(room)!.pendingRenames).toBeLessThanOrEqual(MAX_RENAMES);
    const mark = fake.heard.length;
    x.submit({ via: 'p', origin: 'p' }, [Buffer.from(`PART #${room}`)]);
    await waitFor(() => /type=["']unavailable["']/.test(fake.heard.slice(mark)), { what: 'the bot leaving' });
    const before = lines.length;
    fake.say(groupchat(room, 'alice', 'after the part'));
    fake.say(`<presence from='${room}/late'/>`);
    fake.say(`<presence type='unavailable' from='${room}/hivebot'><x xmlns='${MUC_USER}'><item affiliation='none'/><status code='110'/></x></presence>`);
    await waitFor(() => !roomsOf(x).has(room), { what: 'the room forgotten' });
    expect(lines.slice(before).map((l) => l.text)).toEqual([`:hivebot!hivebot@evil.org PART #${room}`]);
  });

  it('sends a private answer to the speaker answered, not to a namesake in another room or a direct chat', async () => {
    const [ra, rb] = ['r6@conference.evil.org', 'r7@conference.evil.org'];
    const { net: x, lines } = network(fake.port, { rooms: [ra, rb] });
    const mark = fake.heard.length;
    await x.start();
    await waitFor(() => fake.heard.slice(mark).includes(`${rb}/hivebot`), { what: 'the joins' });
    for (const r of [ra, rb]) {
      fake.say(`<presence from='${r}/alice'><x xmlns='${MUC_USER}'><item affiliation='none' role='participant'/></x></presence>`);
      fake.say(`<presence from='${r}/hivebot'><x xmlns='${MUC_USER}'><item affiliation='none' role='participant'/><status code='110'/></x></presence>`);
      fake.say(`<message type='groupchat' from='${r}'><subject/></message>`);
    }
    fake.say(`<message type='chat' from='alice@elsewhere.net/x'><body>hi from a namesake</body></message>`);
    fake.say(groupchat(rb, 'alice', '!secret'));
    await waitFor(() => lines.some((l) => l.text.endsWith(':!secret')), { what: '!secret' });
    const ask = lines.find((l) => l.text.endsWith(':!secret'))!;
    const sent = fake.heard.length;
    x.submit({ via: 'p', origin: 'p' }, [Buffer.from('NOTICE alice :for you only')], ask.id);
    await waitFor(() => fake.heard.slice(sent).includes('for you only'), { what: 'the answer' });
    expect(fake.heard.slice(sent)).toMatch(new RegExp(`to=["']${rb}/alice["']`));
  });

  it('asks a room it joins again only for the history after what it heard, and hands none of it on twice', async () => {
    const room = 'r8@conference.evil.org';
    const { net: x, lines } = network(fake.port, { rooms: [room], rejoin_delay: 50 });
    await joined(x, lines, room);
    fake.say(groupchat(room, 'alice', '!ping once'));
    await settle(lines, room);
    const mark = fake.heard.length;
    // Kicked: the bot joins again after rejoin_delay.
    fake.say(`<presence type='unavailable' from='${room}/hivebot'><x xmlns='${MUC_USER}'><item affiliation='none' role='none'/><status code='307'/><status code='110'/></x></presence>`);
    await waitFor(() => fake.heard.slice(mark).includes(`${room}/hivebot`), { what: 'the rejoin' });
    const since = /<history since=["']([^"']+)["']/.exec(fake.heard.slice(mark))?.[1];
    expect(since).toBeDefined();
    expect(Date.parse(since!)).toBeGreaterThan(Date.now() - 10_000);
    const before = lines.length;
    // A service that replays it all the same: the old line is not handed on again, a newer one is.
    fake.say(`<presence from='${room}/hivebot'><x xmlns='${MUC_USER}'><item affiliation='none' role='participant'/><status code='110'/></x></presence>`);
    fake.say(groupchat(room, 'alice', '!ping once', `<delay xmlns='urn:xmpp:delay' from='${room}' stamp='${new Date(Date.parse(since!) - 1000).toISOString()}'/>`));
    fake.say(groupchat(room, 'alice', 'newer', `<delay xmlns='urn:xmpp:delay' from='${room}' stamp='${new Date(Date.now() + 1000).toISOString()}'/>`));
    fake.say(`<message type='groupchat' from='${room}'><subject/></message>`);
    await settle(lines, room);
    const texts = lines.slice(before).map((l) => l.text);
    expect(texts.some((t) => t.endsWith(':!ping once'))).toBe(false);
    expect(lines.find((l) => l.text.endsWith(':newer'))!.meta['hive.history']).toBe(true);
  });
});

describe('XMPP limits the server cannot push past', () => {
  it('joins no more than MAX_ROOMS rooms, however many JOINs were accepted before the first was sent', async () => {
    const rooms = await fakeServer({ autoJoin: true });
    try {
      const config = Array.from({ length: MAX_ROOMS - 1 }, (_, i) => `c${i}@conference.evil.org`);
      const { net: x } = network(rooms.port, { rooms: config });
      await x.start();
      await waitFor(() => [...roomsOf(x).values()].every((r) => r.state === 'in'), { what: 'in all rooms' });
      // Both pass the check at submit (neither room is wanted yet); the second is one too many when sent.
      x.submit({ via: 'p', origin: 'p' }, [Buffer.from('JOIN #extra1@conference.evil.org,#extra2@conference.evil.org')]);
      await waitFor(() => x.outboundCounters().refused === 1, { what: 'the second JOIN refused' });
      expect(roomsOf(x).size).toBe(MAX_ROOMS);
      expect(roomsOf(x).has('extra2@conference.evil.org')).toBe(false);
      expect(rooms.heard).not.toContain('extra2@conference.evil.org');
    } finally {
      await rooms.close();
    }
  });

  it('takes hive.time of a direct chat only from a delay our own server stamped (offline storage)', async () => {
    const { net: x, lines } = network(fake.port);
    await x.start();
    await waitFor(() => x.status().online, { what: 'online' });
    const stamp = '2020-02-02T00:00:00Z';
    fake.say(`<message type='chat' from='bob@elsewhere.net/x'><body>kept offline</body><delay xmlns='urn:xmpp:delay' from='evil.org' stamp='${stamp}'/></message>`);
    fake.say(`<message type='chat' from='bob@elsewhere.net/x'><body>claims the past</body><delay xmlns='urn:xmpp:delay' from='elsewhere.net' stamp='${stamp}'/></message>`);
    await waitFor(() => lines.some((l) => l.text.endsWith(':claims the past')), { what: 'both messages' });
    expect(lines.find((l) => l.text.endsWith(':kept offline'))!.meta['hive.time']).toBe(Date.parse(stamp));
    expect(lines.find((l) => l.text.endsWith(':claims the past'))!.meta['hive.time']).toBeUndefined();
    expect(x.counters.forgedTimes).toBe(1);
  });

  it("passes on a direct chat's correction only of a message the same JID sent", async () => {
    const { net: x, lines } = network(fake.port);
    await x.start();
    await waitFor(() => x.status().online, { what: 'online' });
    const replace = (id: string) => `<replace xmlns='urn:xmpp:message-correct:0' id='${id}'/>`;
    fake.say(`<message type='chat' id='al-1' from='alice@elsewhere.net/x'><body>alice says</body></message>`);
    fake.say(`<message type='chat' id='bo-1' from='bob@elsewhere.net/x'><body>bob corrects alice</body>${replace('al-1')}</message>`);
    fake.say(`<message type='chat' id='al-2' from='alice@elsewhere.net/y'><body>alice corrects herself</body>${replace('al-1')}</message>`);
    await waitFor(() => lines.some((l) => l.text.endsWith(':alice corrects herself')), { what: 'the three messages' });
    expect(lines.find((l) => l.text.endsWith(':bob corrects alice'))!.meta['hive.replaces']).toBeUndefined();
    expect(lines.find((l) => l.text.endsWith(':alice corrects herself'))!.meta['hive.replaces']).toBe('al-1');
    expect(x.counters.foreignCorrections).toBe(1);
  });
});

describe('XMPP stop() while connecting', () => {
  it('cuts a connection still logging in, so that it cannot log in later', async () => {
    const stall = await fakeServer({ stall: true });
    try {
      const { net: x } = network(stall.port, { connect_timeout: 30_000 });
      await x.start();
      await waitFor(() => stall.open === 1, { what: 'the connection' });
      const t0 = Date.now();
      await x.stop();
      await waitFor(() => stall.open === 0, { what: 'the connection cut', timeout: 2_000 });
      expect(Date.now() - t0).toBeLessThan(1_500);
      await sleep(300);
      expect(stall.connections).toBe(1);
    } finally {
      await stall.close();
    }
  });
});
