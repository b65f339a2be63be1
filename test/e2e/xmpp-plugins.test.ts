// Every built-in plugin on XMPP, unchanged: one hive on a real Prosody, one room, two raw XMPP
// clients (alice, an admin by her JID; bob, nobody in particular). A table gives each plugin one
// command and the answer expected; each is answered exactly once. Then auth by JID: hive.account is
// the speaker's bare JID in a room that shows real JIDs, and capabilities follow it.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Element } from '@xmpp/xml';
import { startProsody, type Prosody } from '../helpers/prosody.js';
import { bodyOf, connectXmpp, type XmppTestClient } from '../helpers/xmpp-client.js';
import { startHive, type TestHive } from '../helpers/hive.js';
import { sleep } from '../helpers/wait.js';
import { BOT, botInRoom, xmppNetwork } from '../mouth/xmpp-util.js';

const ROOM = 'plugins@conference.localhost';
const CHANNEL = `#${ROOM}`;
const TOKEN = 'xmpp-token-0123456789abcdef';

let prosody: Prosody;
let hive: TestHive;
let alice: XmppTestClient;
let bob: XmppTestClient;
let announceUrl: string;

/** The bot's groupchat messages in the room, as `c` received them. */
const roomAnswers = (c: XmppTestClient, since = 0) =>
  c.stanzas.slice(since).filter((s) => s.is('message') && s.attrs.type === 'groupchat' && s.attrs.from === `${ROOM}/hivebot`).map((s) => bodyOf(s) ?? '');
/** Anything the bot sent `c` privately (a notice to a nick in the room: a private message there, or a direct chat). */
const privateAnswers = (c: XmppTestClient, since = 0) =>
  c.stanzas.slice(since).filter((s) => s.is('message') && s.attrs.type !== 'groupchat' && s.attrs.type !== 'error' && /hivebot/.test(s.attrs.from ?? '')).map((s) => bodyOf(s) ?? '');
const matches = (pattern: string | RegExp, body: string) => (typeof pattern === 'string' ? body === pattern : pattern.test(body));

function waitAnswer(c: XmppTestClient, pattern: string | RegExp, since: number, where: 'room' | 'private'): Promise<Element> {
  return c.waitFor((s) => s.is('message') && (where === 'room' ? s.attrs.type === 'groupchat' && s.attrs.from === `${ROOM}/hivebot` : s.attrs.type !== 'groupchat' && /hivebot/.test(s.attrs.from ?? '')) && matches(pattern, bodyOf(s) ?? ''), { since, timeout: 15_000, what: `${String(pattern)} (${where})` });
}

beforeAll(async () => {
  prosody = await startProsody();
  await prosody.register(BOT.user, BOT.password);
  for (const u of ['alice', 'bob']) await prosody.register(u, 'pw');
  [alice, bob] = await Promise.all([connectXmpp(prosody, 'alice', 'pw'), connectXmpp(prosody, 'bob', 'pw')]);
  await alice.join(ROOM, 'alice');
  await bob.join(ROOM, 'bob');
  hive = await startHive({
    networks: { xmpp: xmppNetwork(prosody, { rooms: [ROOM] }) },
    plugins: [
      // alice is an admin by her JID; everyone else has nothing.
      { name: 'auth', use: 'auth', on_death: 'hold', config: { accounts: { 'alice@localhost': ['admin'] }, default: [] } },
      { name: 'ratelimit', use: 'ratelimit', parent: 'auth', config: { commands: 2, per: '1m' } },
      { name: 'echo', use: 'echo', parent: 'ratelimit' },
      { name: 'sanitizer', use: 'sanitizer', parent: 'auth', on_death: 'hold' },
      { name: 'stats', use: 'stats', parent: 'sanitizer' },
      { name: 'pager', use: 'pager', parent: 'stats', config: { lines: 4 } },
      { name: 'compose', use: 'compose', parent: 'pager' },
      { name: 'text', use: 'text', parent: 'compose' },
      { name: 'ping', use: 'ping', parent: 'compose' },
      { name: 'help', use: 'help', parent: 'compose' },
      { name: 'notes', use: 'notes', parent: 'compose' },
      { name: 'seen', use: 'seen', parent: 'auth' },
      { name: 'autorespond', use: 'autorespond', parent: 'auth', config: { cooldown: '1s' } },
      { name: 'alerts', use: 'alerts', parent: 'auth' },
      { name: 'remind', use: 'remind', parent: 'auth' },
      { name: 'announce', use: 'announce', config: { port: 0, token: TOKEN } },
    ],
  });
  await Promise.all([botInRoom(alice, ROOM), botInRoom(bob, ROOM)]);
  for (const node of ['echo', 'notes', 'seen', 'autorespond', 'alerts', 'remind', 'help', 'text', 'ping']) {
    await hive.waitForLog((l) => l.node === node && l.msg === 'attached to parent', 20_000);
  }
  const listening = await hive.waitForLog((l) => l.node === 'announce' && l.msg === 'listening');
  announceUrl = `http://127.0.0.1:${String(listening.port)}/announce`;
}, 60_000);

afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') process.stderr.write(hive.logs.filter((l) => l.level !== 20).slice(-40).map((l) => JSON.stringify(l)).join('\n') + '\n');
});

afterAll(async () => {
  await Promise.all([alice?.close(), bob?.close()]);
  await hive?.stop();
  await prosody?.stop();
});

interface Row {
  plugin: string;
  who: () => XmppTestClient;
  /** What is said in the room (or done: announce is an HTTP call). */
  say: string | (() => Promise<void>);
  answer: string | RegExp;
  where?: 'room' | 'private';
}

const announce = async () => {
  const res = await fetch(announceUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ network: 'xmpp', target: CHANNEL, text: 'build finished' }),
  });
  expect(res.status).toBe(200);
};

// In order. ratelimit lets 2 commands a minute per user through to echo: bob's third is noticed
// (privately, once). It counts every command a user gives, so alice, with more than two in the
// table, is noticed once too; her other commands go to plugins outside its subtree and are answered.
const ROWS: Row[] = [
  { plugin: 'ping', who: () => alice, say: '!ping', answer: 'pong' },
  { plugin: 'echo', who: () => bob, say: '!echo one', answer: 'one' },
  { plugin: 'ratelimit (under it)', who: () => bob, say: '!echo two', answer: 'two' },
  { plugin: 'ratelimit (over it)', who: () => bob, say: '!echo three', answer: /^you are sending commands too fast; wait \d+s$/, where: 'private' },
  { plugin: 'help', who: () => alice, say: '!help rot13', answer: /^rot13 TEXT — / },
  { plugin: 'seen', who: () => alice, say: async () => { await bob.groupchat(ROOM, 'hi all'); await sleep(200); await alice.groupchat(ROOM, '!seen bob'); }, answer: `bob was last seen just now in ${CHANNEL} saying: hi all` },
  { plugin: 'notes', who: () => alice, say: '!note add xmpp works', answer: 'note 1 added' },
  { plugin: 'autorespond', who: () => alice, say: '!ar add /^marco$/ polo', answer: 'rule 1 added' },
  { plugin: 'alerts', who: () => alice, say: '!subscribe deploy', answer: "subscribed to 'deploy'" },
  { plugin: 'remind', who: () => alice, say: '!remind 1h tea', answer: /^ok, I'll remind you in 1h \(at .+ UTC\) \[#1\]$/ },
  { plugin: 'announce', who: () => alice, say: announce, answer: 'build finished' },
  { plugin: 'auth', who: () => alice, say: '!whoami', answer: /account alice@localhost; .*capabilities: admin/ },
  { plugin: 'sanitizer (a reply to the room passes)', who: () => alice, say: '!rot13 hello', answer: 'uryyb' },
  { plugin: 'pager', who: () => alice, say: '!help', answer: /\n\(\+\d+ more lines?: say !more\)$/ },
  { plugin: 'stats', who: () => alice, say: '!stats', answer: /^\d+ commands since .* top plugins: / },
  { plugin: 'compose', who: () => alice, say: '!compose reverse rot13 hello', answer: 'byyru' },
];

describe('every built-in plugin in an XMPP room', () => {
  it('answers one command of each, exactly once', async () => {
    const a0 = alice.mark();
    const b0 = bob.mark();
    for (const row of ROWS) {
      const c = row.who();
      const since = c.mark();
      if (typeof row.say === 'string') await c.groupchat(ROOM, row.say);
      else await row.say();
      await waitAnswer(c, row.answer, since, row.where ?? 'room');
    }
    await sleep(1000);
    // Each expected answer arrived once, and nothing else was said in the room.
    const room = roomAnswers(alice, a0);
    const inRoom = ROWS.filter((r) => (r.where ?? 'room') === 'room');
    for (const row of inRoom) expect(room.filter((b) => matches(row.answer, b)), row.plugin).toHaveLength(1);
    expect(room).toHaveLength(inRoom.length);
    // bob saw the same room, and the one notice privately.
    expect(roomAnswers(bob, b0)).toEqual(room);
    const notice = /^you are sending commands too fast; wait \d+s$/;
    expect(privateAnswers(bob, b0)).toEqual([expect.stringMatching(notice)]);
    expect(privateAnswers(alice, a0)).toEqual([expect.stringMatching(notice)]);
  });

  it('auth grants by JID: hive.account is the bare JID, capabilities follow it', async () => {
    const since = bob.mark();
    await bob.groupchat(ROOM, '!whoami');
    await waitAnswer(bob, /^bob .*account bob@localhost; .*capabilities: none$/, since, 'room');
    await bob.groupchat(ROOM, '!ar add /^ding$/ dong');
    await waitAnswer(bob, "ar: adding rules needs the capability 'autorespond.edit'", since, 'room');
    const a0 = alice.mark();
    await alice.groupchat(ROOM, '!whoami');
    await waitAnswer(alice, /^alice .*account alice@localhost; .*capabilities: admin$/, a0, 'room');
    await alice.groupchat(ROOM, '!ar add /^ding$/ dong');
    await waitAnswer(alice, /^rule \d+ added$/, a0, 'room');
    // alice's rule (added as admin, by her JID) answers anyone.
    await sleep(1100); // autorespond's cooldown after its last answer here
    await bob.groupchat(ROOM, 'ding');
    await waitAnswer(bob, 'dong', since, 'room');
    await sleep(500);
    expect(roomAnswers(bob, since).filter((b) => b === 'dong')).toHaveLength(1);
  });
});

describe("a room's history on a rejoin", () => {
  it('is not answered again by autorespond (a restarted mouth rejoins and the room replays ding)', async () => {
    // The last test left bob's 'ding' in the room's history, answered once by alice's rule.
    const a0 = alice.mark();
    expect(roomAnswers(bob).filter((b) => b === 'dong')).toHaveLength(1);
    const r = await hive.cli('restart', 'mouth', '--config', hive.configFile);
    expect(r.exitCode).toBe(0);
    await botInRoom(alice, ROOM, 'hivebot', { since: a0, timeout: 30_000 });
    // The history comes with the join; give autorespond (cooldown 1 s) time to answer it, were it to.
    await sleep(2500);
    expect(roomAnswers(bob).filter((b) => b === 'dong')).toHaveLength(1);
    // And it still answers what is said now.
    const b1 = bob.mark();
    await bob.groupchat(ROOM, 'ding');
    await waitAnswer(bob, 'dong', b1, 'room');
  }, 60_000);
});
