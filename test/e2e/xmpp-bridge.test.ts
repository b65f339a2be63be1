// The bridge between a real ngIRCd and a real Prosody: an IRC channel and two XMPP rooms in one
// group. carol is on IRC (raw client), alice in room A and bob in room B (raw XMPP clients). What
// each sees is checked on the wire: replies and corrections native in the rooms (XEP-0461 <reply>,
// XEP-0308 <replace> naming the copy there), shown as a quote and s/old/new/ on IRC, and a
// multi-line message kept together on both sides.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Element } from '@xmpp/xml';
import { startNgircd, type Ircd } from '../helpers/ircd.js';
import { connectClient, type IrcTestClient } from '../helpers/irc-client.js';
import { startProsody, type Prosody } from '../helpers/prosody.js';
import { bodyOf, connectXmpp, messagesFrom, xml, type XmppTestClient } from '../helpers/xmpp-client.js';
import { startHive, type TestHive } from '../helpers/hive.js';
import { sleep } from '../helpers/wait.js';
import { botJoined, ircNetwork, privmsgsFrom } from '../mouth/util.js';
import { BOT, botInRoom, xmppNetwork } from '../mouth/xmpp-util.js';
import { plainText } from '../../plugins/bridge/format.js';

const A = 'hive@conference.localhost';
const B = 'side@conference.localhost';
const NS_REPLY = 'urn:xmpp:reply:0';
const NS_CORRECT = 'urn:xmpp:message-correct:0';
const NS_SID = 'urn:xmpp:sid:0';

let ircd: Ircd;
let prosody: Prosody;
let hive: TestHive;
let carol: IrcTestClient;
let alice: XmppTestClient;
let bob: XmppTestClient;

/** What a reader sees of a line the bridge relayed (no zero-width space, no colour codes). */
const seen = (text: string | undefined) => plainText(text ?? '');
/** The bridge's messages in a room, as its occupant received them. */
const fromBot = (c: XmppTestClient, room: string, since: number) => messagesFrom(c, `${room}/hivebot`, since);
const expectFromBot = (c: XmppTestClient, room: string, body: string, since: number): Promise<Element> =>
  c.waitFor((s) => s.is('message') && s.attrs.from === `${room}/hivebot` && seen(bodyOf(s)) === body, { since, timeout: 15_000, what: `"${body}" from the bot in ${room}` });
const expectIrc = (text: string, since: number) =>
  carol.waitFor((l) => l.command === 'PRIVMSG' && l.nick === 'hivebot' && l.params[0] === '#hive' && seen(l.params[1]) === text, { since, timeout: 15_000 });
const ircRelays = (since: number) => privmsgsFrom(carol, 'hivebot', '#hive', since).map((l) => seen(l.params[1]));
/** The id the room stamped on a message (XEP-0359 stanza-id by the room). */
const stanzaId = (s: Element, room: string) => s.getChildren('stanza-id', NS_SID).find((e) => e.attrs.by === room)?.attrs.id;

beforeAll(async () => {
  [ircd, prosody] = await Promise.all([startNgircd(), startProsody()]);
  await prosody.register(BOT.user, BOT.password);
  for (const u of ['alice', 'bob']) await prosody.register(u, 'pw');
  carol = await connectClient({ host: ircd.host, port: ircd.port, nick: 'carol' });
  await carol.join('#hive');
  [alice, bob] = await Promise.all([connectXmpp(prosody, 'alice', 'pw'), connectXmpp(prosody, 'bob', 'pw')]);
  await alice.join(A, 'alice');
  await bob.join(B, 'bob');
  hive = await startHive({
    networks: {
      irc: ircNetwork(ircd, { channels: ['#hive'] }),
      // rejoin_delay: the bot is out of room A for a while after a kick (the history test).
      xmpp: xmppNetwork(prosody, { rooms: [A, B], rejoin_delay: 1500 }),
    },
    plugins: [{ name: 'bridge', use: 'bridge', config: { groups: { g: ['irc/#hive', `xmpp/#${A}`, `xmpp/#${B}`] } } }],
  });
  await Promise.all([botJoined(carol, 'hivebot', '#hive'), botInRoom(alice, A), botInRoom(bob, B)]);
  await hive.waitForLog((l) => l.node === 'bridge' && l.msg === 'attached to parent', 20_000);
}, 60_000);

afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') process.stderr.write(hive.logs.filter((l) => l.node === 'bridge' || l.node === 'mouth').slice(-40).map((l) => JSON.stringify(l)).join('\n') + '\n');
});

afterAll(async () => {
  carol?.close();
  await Promise.all([alice?.close(), bob?.close()]);
  await hive?.stop();
  await Promise.all([ircd?.stop(), prosody?.stop()]);
});

describe('bridge between ngIRCd and Prosody', () => {
  it('relays both ways, once each, names as each side shows them, IRC formatting plain in the rooms', async () => {
    const [c0, a0, b0] = [carol.mark(), alice.mark(), bob.mark()];
    carol.say('#hive', 'hello from \x02irc\x02');
    const inA = await expectFromBot(alice, A, '<carol> hello from irc', a0);
    await expectFromBot(bob, B, '<carol> hello from irc', b0);
    // A room gets the nick with the no-highlight space but no colour codes, and no formatting.
    expect(bodyOf(inA)).toBe('<c\u200barol> hello from irc');

    await alice.groupchat(A, 'hi from xmpp');
    const onIrc = await expectIrc('<alice> hi from xmpp', c0);
    expect(onIrc.params[1]).toMatch(/^<\x03\d\da\u200blice\x03> hi from xmpp$/);
    await expectFromBot(bob, B, '<alice> hi from xmpp', b0);
    await sleep(500);
    expect(ircRelays(c0)).toEqual(['<alice> hi from xmpp']);
    expect(fromBot(alice, A, a0).map((s) => seen(bodyOf(s)))).toEqual(['<carol> hello from irc']);
    expect(fromBot(bob, B, b0).map((s) => seen(bodyOf(s)))).toEqual(['<carol> hello from irc', '<alice> hi from xmpp']);
  });

  it('a reply in a room: quoted on IRC, a native reply to the copy in the other room', async () => {
    const [c0, a0, b0] = [carol.mark(), alice.mark(), bob.mark()];
    await alice.groupchat(A, 'what time is the meeting tomorrow?');
    // alice's own message comes back from the room with the id the room gave it: hive.msgid.
    const own = await alice.waitFor((s) => s.is('message') && s.attrs.from === `${A}/alice` && bodyOf(s) === 'what time is the meeting tomorrow?', { since: a0 });
    const copy = await expectFromBot(bob, B, '<alice> what time is the meeting tomorrow?', b0);
    const a1 = alice.mark();
    // bob answers the bridge's copy in room B by the id the room gave it (its stanza-id), as a
    // XEP-0461 client does in a room.
    const copyInB = stanzaId(copy, B);
    expect(copyInB).toMatch(/./);
    expect(copyInB).not.toBe(copy.attrs.id);
    await bob.groupchat(B, 'at noon', [xml('reply', { xmlns: NS_REPLY, id: copyInB, to: `${B}/hivebot` })]);
    await expectIrc('<bob> ↪ alice: "what time is the meeting tomorrow?" — at noon', c0);
    const reply = await expectFromBot(alice, A, '<bob> at noon', a1);
    // In room A it answers alice's own message, by the id the room gave it.
    expect(stanzaId(own, A)).toMatch(/./);
    expect(reply.getChild('reply', NS_REPLY)?.attrs.id).toBe(stanzaId(own, A));
    await sleep(300);
    expect(ircRelays(c0)).toEqual(['<alice> what time is the meeting tomorrow?', '<bob> ↪ alice: "what time is the meeting tomorrow?" — at noon']);
  });

  it('a correction in a room: s/old/new/ on IRC (no second message), a native correction of the copy in the other room', async () => {
    const [c0, b0] = [carol.mark(), bob.mark()];
    const id = await alice.groupchat(A, 'I like teh cats');
    const copy = await expectFromBot(bob, B, '<alice> I like teh cats', b0);
    const b1 = bob.mark();
    await alice.groupchat(A, 'I like the cats', [xml('replace', { xmlns: NS_CORRECT, id })]);
    await expectIrc('<alice> s/teh/the/', c0);
    const fixed = await expectFromBot(bob, B, '<alice> I like the cats', b1);
    expect(copy.attrs.id).toMatch(/^bridge-/);
    expect(fixed.getChild('replace', NS_CORRECT)?.attrs.id).toBe(copy.attrs.id);
    // A bigger change of the same message: marked as a correction on IRC.
    const b2 = bob.mark();
    await alice.groupchat(A, 'I like dogs more than cats', [xml('replace', { xmlns: NS_CORRECT, id })]);
    await expectIrc('<alice> * correction: I like dogs more than cats', c0);
    const again = await expectFromBot(bob, B, '<alice> I like dogs more than cats', b2);
    expect(again.getChild('replace', NS_CORRECT)?.attrs.id).toBe(copy.attrs.id);
    await sleep(300);
    expect(ircRelays(c0)).toEqual(['<alice> I like teh cats', '<alice> s/teh/the/', '<alice> * correction: I like dogs more than cats']);
  });

  it('hostile: a correction naming someone else\'s message (the bot\'s copy of it) changes nothing of theirs', async () => {
    const [c0, a0, b0] = [carol.mark(), alice.mark(), bob.mark()];
    await alice.groupchat(A, 'I love this project');
    const copy = await expectFromBot(bob, B, '<alice> I love this project', b0);
    await expectIrc('<alice> I love this project', c0);
    const a1 = alice.mark();
    // bob "corrects" the copy in room B, by its stanza-id as his client knows it. (The mouth may
    // already pass it on as a plain line; the bridge refuses it either way.) It arrives as bob's
    // new line, never as a correction of alice's.
    await bob.groupchat(B, 'I hate this project', [xml('replace', { xmlns: NS_CORRECT, id: stanzaId(copy, B) })]);
    const asNew = /^<bob> (\* correction: )?I hate this project$/;
    await carol.waitFor((l) => l.command === 'PRIVMSG' && l.nick === 'hivebot' && asNew.test(seen(l.params[1])), { since: c0, timeout: 15_000 });
    const inA = await alice.waitFor((s) => s.is('message') && s.attrs.from === `${A}/hivebot` && asNew.test(seen(bodyOf(s))), { since: a1, timeout: 15_000 });
    expect(inA.getChild('replace', NS_CORRECT)).toBeUndefined();
    await sleep(300);
    expect(fromBot(alice, A, a0).filter((s) => s.getChild('replace', NS_CORRECT))).toEqual([]);
    expect(ircRelays(c0).filter((l) => l.startsWith('<alice>'))).toEqual(['<alice> I love this project']);
  });

  it('an IRC user\'s s/old/new/ becomes a correction of the copies in the rooms', async () => {
    const a0 = alice.mark();
    carol.say('#hive', 'helo world');
    const copy = await expectFromBot(alice, A, '<carol> helo world', a0);
    const a1 = alice.mark();
    carol.say('#hive', 's/helo/hello/');
    const fixed = await expectFromBot(alice, A, '<carol> hello world', a1);
    expect(copy.attrs.id).toMatch(/^bridge-/);
    expect(fixed.getChild('replace', NS_CORRECT)?.attrs.id).toBe(copy.attrs.id);
    await sleep(300);
    expect(fromBot(alice, A, a0).map((s) => seen(bodyOf(s)))).toEqual(['<carol> helo world', '<carol> hello world']);
  });

  it('a multi-line room message: consecutive lines on IRC, one message in the other room', async () => {
    const [c0, b0] = [carol.mark(), bob.mark()];
    await alice.groupchat(A, 'line one\nline two\nline three');
    await expectFromBot(bob, B, '<alice> line one\nline two\nline three', b0);
    await expectIrc('<alice> line three', c0);
    await sleep(300);
    expect(ircRelays(c0)).toEqual(['<alice> line one', '<alice> line two', '<alice> line three']);
    expect(fromBot(bob, B, b0)).toHaveLength(1);
    const bridge = await hive.node('bridge');
    expect(bridge.counters.relay_failed).toBe(0);
  });

  it('an attachment (XEP-0066) whose address is not in the text reaches IRC and the other room as a line of its own', async () => {
    const [c0, b0] = [carol.mark(), bob.mark()];
    await alice.groupchat(A, 'the plan', [xml('x', { xmlns: 'jabber:x:oob' }, xml('url', {}, 'https://example.org/plan.pdf'))]);
    await expectFromBot(bob, B, '<alice> the plan\nhttps://example.org/plan.pdf', b0);
    await expectIrc('<alice> https://example.org/plan.pdf', c0);
    expect(ircRelays(c0)).toEqual(['<alice> the plan', '<alice> https://example.org/plan.pdf']);
  });

  it('what alice says while the bot is out of her room is relayed when it comes back (the room\'s history), what it saw is not', async () => {
    const [c0, b0] = [carol.mark(), bob.mark()];
    await alice.groupchat(A, 'just before the kick');
    await expectIrc('<alice> just before the kick', c0);
    const a0 = alice.mark();
    // alice owns room A (she made it): she kicks the bot, speaks, and the bot rejoins after 1.5 s.
    await alice.send(xml('iq', { type: 'set', to: A, id: 'kick-bot' }, xml('query', { xmlns: 'http://jabber.org/protocol/muc#admin' }, xml('item', { nick: 'hivebot', role: 'none' }))));
    await alice.waitFor((s) => s.is('presence') && s.attrs.from === `${A}/hivebot` && s.attrs.type === 'unavailable', { since: a0, what: 'the bot kicked' });
    // A second later: the mouth drops history stamped (in Prosody's whole seconds) at or before the
    // last line it heard, so a line in the same second would be lost there (reported to its owner).
    await sleep(1100);
    await alice.groupchat(A, 'said while the bot was out');
    await botInRoom(alice, A, 'hivebot', { since: a0, timeout: 20_000 });
    await expectIrc('<alice> said while the bot was out', c0);
    await expectFromBot(bob, B, '<alice> said while the bot was out', b0);
    await sleep(500);
    expect(ircRelays(c0)).toEqual(['<alice> just before the kick', '<alice> said while the bot was out']);
    expect((await hive.node('bridge')).counters.history_relayed).toBeGreaterThanOrEqual(1);
  }, 40_000);

  it('hostile: a 60-line message reaches IRC as max_lines lines (the rest said and counted), the other room whole', async () => {
    const [c0, b0] = [carol.mark(), bob.mark()];
    const before = (await hive.node('bridge')).counters.lines_cut ?? 0;
    const lines = Array.from({ length: 60 }, (_, i) => `flood ${i}`);
    await alice.groupchat(A, lines.join('\n'));
    await expectFromBot(bob, B, `<alice> ${lines.join('\n')}`, b0);
    await expectIrc('<alice> (… 51 more lines)', c0);
    await sleep(300);
    expect(ircRelays(c0)).toEqual([...lines.slice(0, 9).map((l) => `<alice> ${l}`), '<alice> (… 51 more lines)']);
    expect((await hive.node('bridge')).counters.lines_cut).toBe(before + 51);
  });
});
