// What the XMPP network hands the plugins and sends for them, on a real Prosody: the room's lines
// (JOIN with NAMES, PART, NICK, KICK, TOPIC), its history marked and not answered, `seen` working
// on it; replies carrying XEP-0461, a multi-line reply as one message, /me both ways, and the
// metadata of replies, corrections and links read by a Python plugin, which also corrects its own.
import { writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Element } from '@xmpp/xml';
import { startProsody, type Prosody } from '../helpers/prosody.js';
import { bodyOf, connectXmpp, xml, type XmppTestClient } from '../helpers/xmpp-client.js';
import { startHive, type TestHive } from '../helpers/hive.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { exec, logsOf, waitForNodeLog } from './util.js';
import { BOT, bodiesFrom, botInRoom, expectBody, xmppNetwork } from './xmpp-util.js';

const PYTHON = '/usr/bin/python3';
const PYMETA = `
from hive_node import HiveNode, HiveMessage, log, to_bytes

node = HiveNode(kind='responder', commands=[('two', 'two lines'), ('fix', 'says helo, then corrects it'), ('wave', 'waves back'),
                                            ('join', 'join ROOM'), ('leave', 'leave ROOM')])


@node.on_message(routes=['PRIVMSG.*'])
def seen(msg):
    log('info', 'meta', text=msg.lines[0].decode('utf8', 'replace'), msgid=msg.get('hive.msgid'),
        reply_msgid=msg.get('hive.reply_msgid'), replaces=msg.get('hive.replaces'), links=msg.get('hive.links'),
        history=msg.get('hive.history'), account=msg.get('hive.account'), nick=msg.get('hive.nick'))


@node.command('two')
async def two(cmd):
    await cmd.reply('line one\\nline two')


@node.command('wave')
async def wave(cmd):
    await cmd.reply('\\x01ACTION waves back\\x01')


async def line(cmd, text):
    m = HiveMessage([to_bytes(text)], {})
    m.set('hive.network', 's', cmd.message.get('hive.network'))
    await node.send(m)


@node.command('join')
async def join(cmd):
    await line(cmd, f'JOIN {cmd.args}')


@node.command('leave')
async def leave(cmd):
    await line(cmd, f'PART {cmd.args}')


@node.command('fix')
async def fix(cmd):
    for text, key in (('helo', 'hive.msgid'), ('hello', 'hive.replaces')):
        m = HiveMessage([to_bytes(f'PRIVMSG {cmd.reply_to} :{text}')], {})
        m.set('hive.network', 's', cmd.message.get('hive.network'))
        m.set(key, 's', 'py-fix-1')
        await node.send(m)


node.run()
`;

let prosody: Prosody;
let hive: TestHive | undefined;
const clients: XmppTestClient[] = [];
let pymeta: string;
let rooms = 0;
const newRoom = () => `map${++rooms}@conference.localhost`;

beforeAll(async () => {
  prosody = await startProsody();
  await prosody.register(BOT.user, BOT.password);
  for (const u of ['alice', 'bob']) await prosody.register(u, 'pw');
  const dir = mkdtempSync(join(tmpdir(), 'hive-pymeta-'));
  pymeta = join(dir, 'pymeta.py');
  writeFileSync(pymeta, PYMETA);
});
afterAll(async () => { await prosody?.stop(); });
afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail' && hive) process.stderr.write(hive.logs.filter((l) => l.node === 'mouth' || l.node === 'recorder' || l.node === 'pymeta').map((l) => JSON.stringify(l)).slice(-30).join('\n') + '\n');
  for (const c of clients.splice(0)) await c.close();
  await hive?.stop();
  hive = undefined;
});

async function client(user: string): Promise<XmppTestClient> {
  const c = await connectXmpp(prosody, user, 'pw');
  clients.push(c);
  return c;
}

/** Lines the recorder saw (text), since index. */
const recorded = (h: TestHive) => logsOf(h, 'recorder').filter((l) => l.msg === 'seen').map((l) => String(l.text));

describe('XMPP mapping', () => {
  it('gives the room as IRC lines: history marked and not answered, JOIN/NAMES, NICK, PART, KICK, TOPIC; seen answers', async () => {
    const room = newRoom();
    const chan = `#${room}`;
    const alice = await client('alice');
    await alice.join(room, 'alice');
    await alice.groupchat(room, '!ping');
    await alice.groupchat(room, '!two');
    await alice.groupchat(room, 'old talk');
    hive = await startHive({
      networks: { xmpp: xmppNetwork(prosody, { rejoin_delay: 300 }) },
      plugins: [{ name: 'ping', use: 'ping' }, { name: 'seen', use: 'seen' }, { name: 'recorder', exec: exec('recorder') }, { name: 'pymeta', exec: [PYTHON, pymeta] }],
    });
    // The bot joins on a plugin's JOIN, once every plugin is there to see it.
    await alice.chat(`${BOT.user}@localhost`, `join ${chan}`);
    await botInRoom(alice, room);
    // The history reaches the plugins marked, and nobody answers the old !ping.
    const old = await waitForNodeLog(hive, 'pymeta', 'meta', (l) => String(l.text).endsWith(':!ping'));
    expect(old.history).toBe(true);
    expect(old.account).toBe('alice@localhost');
    expect(old.text).toBe(`:alice!alice@localhost PRIVMSG ${chan} :!ping`);
    await waitForNodeLog(hive, 'pymeta', 'meta', (l) => String(l.text).endsWith(':old talk') && l.history === true);
    await waitFor(() => recorded(hive!).includes(`:conference.localhost 366 hivebot ${chan} :End of /NAMES list.`), { what: 'the end of NAMES' });
    const lines = recorded(hive);
    const joinAt = lines.indexOf(`:hivebot!hivebot@localhost JOIN ${chan}`);
    expect(joinAt).toBeGreaterThanOrEqual(0);
    expect(lines.slice(joinAt, joinAt + 3)).toEqual([
      `:hivebot!hivebot@localhost JOIN ${chan}`,
      `:conference.localhost 353 hivebot = ${chan} :alice hivebot`,
      `:conference.localhost 366 hivebot ${chan} :End of /NAMES list.`,
    ]);
    // A fresh line after the history is not marked.
    let since = alice.mark();
    await alice.groupchat(room, 'fresh talk');
    const fresh = await waitForNodeLog(hive, 'pymeta', 'meta', (l) => String(l.text).endsWith(':fresh talk'));
    expect(fresh.history).toBeNull();
    await sleep(500);
    // Neither ping (TypeScript) nor pymeta (Python) answered the history's commands.
    expect(bodiesFrom(alice, `${room}/hivebot`)).toEqual([]);

    const bob = await client('bob');
    await bob.join(room, 'bob');
    await waitForNodeLog(hive, 'recorder', 'seen', (l) => l.text === `:bob!bob@localhost JOIN ${chan}`);
    await bob.send(xml('presence', { to: `${room}/bobby` }));
    await waitForNodeLog(hive, 'recorder', 'seen', (l) => l.text === `:bob!bob@localhost NICK :bobby`);
    await bob.groupchat(room, 'bobby here');
    await waitForNodeLog(hive, 'recorder', 'seen', (l) => l.text === `:bobby!bob@localhost PRIVMSG ${chan} :bobby here`);
    await bob.leave(room, 'bobby');
    await waitForNodeLog(hive, 'recorder', 'seen', (l) => l.text === `:bobby!bob@localhost PART ${chan}`);
    await bob.join(room, 'bob');
    await waitForNodeLog(hive, 'recorder', 'seen', (l) => l.text === `:bob!bob@localhost JOIN ${chan}`, 10_000);
    // alice (the room's owner) kicks bob, then sets the subject.
    await alice.send(xml('iq', { type: 'set', to: room, id: 'kick1' }, xml('query', { xmlns: 'http://jabber.org/protocol/muc#admin' }, xml('item', { nick: 'bob', role: 'none' }, xml('reason', {}, 'too loud')))));
    await waitForNodeLog(hive, 'recorder', 'seen', (l) => l.text === `:alice!alice@localhost KICK ${chan} bob :too loud`);
    await alice.send(xml('message', { to: room, type: 'groupchat' }, xml('subject', {}, 'the new topic')));
    await waitForNodeLog(hive, 'recorder', 'seen', (l) => l.text === `:alice!alice@localhost TOPIC ${chan} :the new topic`);

    since = alice.mark();
    await alice.groupchat(room, '!seen bobby');
    await expectBody(alice, `${room}/hivebot`, /^bobby was last seen .* bobby here/, { since });

    // The bot kicked: a KICK line for it, and it comes back after rejoin_delay.
    since = alice.mark();
    await alice.send(xml('iq', { type: 'set', to: room, id: 'kick2' }, xml('query', { xmlns: 'http://jabber.org/protocol/muc#admin' }, xml('item', { nick: 'hivebot', role: 'none' }, xml('reason', {}, 'out')))));
    await waitForNodeLog(hive, 'recorder', 'seen', (l) => l.text === `:alice!alice@localhost KICK ${chan} hivebot :out`);
    await botInRoom(alice, room, 'hivebot', { since });
    await waitFor(() => recorded(hive!).filter((t) => t === `:hivebot!hivebot@localhost JOIN ${chan}`).length === 2, { what: 'the bot joining again' });

    // A plugin's PART leaves the room.
    await alice.chat(`${BOT.user}@localhost`, `leave ${chan}`);
    await waitForNodeLog(hive, 'recorder', 'seen', (l) => l.text === `:hivebot!hivebot@localhost PART ${chan}`);
    await alice.waitFor((s) => s.is('presence') && s.attrs.from === `${room}/hivebot` && s.attrs.type === 'unavailable', { what: 'the bot leaving' });
  });

  it('replies with XEP-0461, sends a multi-line reply as one message, /me both ways, corrections and ids both ways', async () => {
    const room = newRoom();
    const alice = await client('alice');
    await alice.join(room, 'alice');
    hive = await startHive({
      networks: { xmpp: xmppNetwork(prosody, { rooms: [room] }) },
      plugins: [{ name: 'ping', use: 'ping' }, { name: 'recorder', exec: exec('recorder') }, { name: 'pymeta', exec: [PYTHON, pymeta] }],
    });
    await botInRoom(alice, room);
    const bot = `${room}/hivebot`;

    // A reply names the message it answers by the room's stanza-id, and whom.
    let since = alice.mark();
    const id = await alice.groupchat(room, '!ping');
    const mine = await alice.waitFor((s) => s.is('message') && s.attrs.id === id, { since });
    const stanzaId = mine.getChild('stanza-id', 'urn:xmpp:sid:0')!.attrs.id!;
    const pong = await expectBody(alice, bot, 'pong', { since });
    const reply = pong.getChild('reply', 'urn:xmpp:reply:0')!;
    expect(reply.attrs).toMatchObject({ id: stanzaId, to: `${room}/alice` });
    expect(pong.getChild('origin-id', 'urn:xmpp:sid:0')!.attrs.id).toBe(pong.attrs.id);
    const seenPing = await waitForNodeLog(hive, 'pymeta', 'meta', (l) => String(l.text).endsWith(':!ping'));
    expect(seenPing.msgid).toBe(stanzaId);

    // Two lines of one reply: one message.
    since = alice.mark();
    await alice.groupchat(room, '!two');
    await expectBody(alice, bot, 'line one\nline two', { since });
    await sleep(300);
    expect(bodiesFrom(alice, bot, since)).toEqual(['line one\nline two']);

    // A message of several lines: one line each, in order, all with the message's hive.msgid.
    since = alice.mark();
    const multi = await alice.groupchat(room, 'first line\n\nsecond line');
    const multiEcho = await alice.waitFor((s) => s.is('message') && s.attrs.id === multi, { since });
    const multiSid = multiEcho.getChild('stanza-id', 'urn:xmpp:sid:0')!.attrs.id;
    const second = await waitForNodeLog(hive, 'pymeta', 'meta', (l) => String(l.text).endsWith(':second line'));
    const first = logsOf(hive, 'pymeta').find((l) => String(l.text).endsWith(':first line'))!;
    expect([first.msgid, second.msgid]).toEqual([multiSid, multiSid]);
    expect(logsOf(hive, 'pymeta').indexOf(first)).toBeLessThan(logsOf(hive, 'pymeta').indexOf(second));

    // /me both ways.
    await alice.groupchat(room, '/me waves');
    await waitForNodeLog(hive, 'recorder', 'seen', (l) => String(l.text).endsWith(`PRIVMSG #${room} :\x01ACTION waves\x01`));
    since = alice.mark();
    await alice.groupchat(room, '!wave');
    await expectBody(alice, bot, '/me waves back', { since });

    // Inbound: a reply (its fallback quote cut), a correction, links.
    const fallback = '> alice wrote:\n> !ping\n';
    const cps = [...fallback].length;
    await alice.groupchat(room, `${fallback}that was me`, [
      xml('reply', { xmlns: 'urn:xmpp:reply:0', id: stanzaId, to: `${room}/alice` }),
      xml('fallback', { xmlns: 'urn:xmpp:fallback:0', for: 'urn:xmpp:reply:0' }, xml('body', { start: '0', end: String(cps) })),
    ]);
    const r = await waitForNodeLog(hive, 'pymeta', 'meta', (l) => String(l.text).endsWith(':that was me'));
    expect(r.reply_msgid).toBe(stanzaId);
    // A correction names alice's own id of the message; hive.replaces is the room's id of it (its hive.msgid).
    since = alice.mark();
    const typo = await alice.groupchat(room, 'that was mee');
    const typoEcho = await alice.waitFor((s) => s.is('message') && s.attrs.id === typo, { since });
    const typoSid = typoEcho.getChild('stanza-id', 'urn:xmpp:sid:0')!.attrs.id;
    await alice.groupchat(room, 'that was me!', [xml('replace', { xmlns: 'urn:xmpp:message-correct:0', id: typo })]);
    const c = await waitForNodeLog(hive, 'pymeta', 'meta', (l) => String(l.text).endsWith(':that was me!'));
    expect(c.replaces).toBe(typoSid);
    const t = await waitForNodeLog(hive, 'pymeta', 'meta', (l) => String(l.text).endsWith(':that was mee'));
    expect(t.msgid).toBe(typoSid);
    await alice.groupchat(room, 'see https://example.org/cat.png', [xml('x', { xmlns: 'jabber:x:oob' }, xml('url', {}, 'https://example.org/cat.png'))]);
    const o = await waitForNodeLog(hive, 'pymeta', 'meta', (l) => String(l.text).includes('cat.png'));
    expect(o.links).toEqual(['https://example.org/cat.png']);

    // Outbound: the plugin's hive.msgid is the stanza's id; its hive.replaces a correction of it.
    since = alice.mark();
    await alice.groupchat(room, '!fix');
    const helo = await expectBody(alice, bot, 'helo', { since });
    expect(helo.attrs.id).toBe('py-fix-1');
    const hello = await expectBody(alice, bot, 'hello', { since });
    expect(hello.getChild('replace', 'urn:xmpp:message-correct:0')!.attrs.id).toBe('py-fix-1');
    // A reply to the bot's own message (named by the room's id of it) carries the id the plugin sent it under.
    const heloSid = helo.getChild('stanza-id', 'urn:xmpp:sid:0')!.attrs.id!;
    expect(heloSid).not.toBe('py-fix-1');
    await alice.groupchat(room, 'nice fix', [xml('reply', { xmlns: 'urn:xmpp:reply:0', id: heloSid, to: bot })]);
    const toBot = await waitForNodeLog(hive, 'pymeta', 'meta', (l) => String(l.text).endsWith(':nice fix'));
    expect(toBot.reply_msgid).toBe('py-fix-1');

    // Direct chat: a reply names the message by its id; hive.account is the sender's bare JID.
    since = alice.mark();
    const dm = await alice.chat(`${BOT.user}@localhost`, 'ping');
    const dmPong = await expectBody(alice, `${BOT.user}@localhost/`, 'pong', { since });
    expect(dmPong.getChild('reply', 'urn:xmpp:reply:0')!.attrs.id).toBe(dm);
    const dmSeen = await waitForNodeLog(hive, 'pymeta', 'meta', (l) => l.text === `:alice!alice@localhost PRIVMSG hivebot :ping`);
    expect(dmSeen.account).toBe('alice@localhost');
  });
});

export type { Element };
export { bodyOf };
