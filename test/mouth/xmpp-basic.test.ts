// The mouth on a real Prosody, seen from a raw XMPP client: answering !ping in a room and in direct
// chat (once each), a multi-line reply as one message, and the room's history not answered.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startProsody, type Prosody } from '../helpers/prosody.js';
import { connectXmpp, type XmppTestClient } from '../helpers/xmpp-client.js';
import { startHive, type TestHive } from '../helpers/hive.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { BOT, bodiesFrom, botInRoom, expectBody, xmppNetwork } from './xmpp-util.js';

let prosody: Prosody;
let hive: TestHive | undefined;
const clients: XmppTestClient[] = [];
let rooms = 0;
const newRoom = () => `room${++rooms}@conference.localhost`;

beforeAll(async () => {
  prosody = await startProsody();
  await prosody.register(BOT.user, BOT.password);
  for (const u of ['alice', 'bob']) await prosody.register(u, 'pw');
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

describe('mouth on Prosody', () => {
  it('answers !ping in a room and in direct chat, once each', async () => {
    const room = newRoom();
    const alice = await client('alice');
    await alice.join(room, 'alice');
    hive = await startHive({
      networks: { xmpp: xmppNetwork(prosody, { rooms: [room] }) },
      plugins: [{ name: 'ping', use: 'ping' }],
    });
    await botInRoom(alice, room);
    let since = alice.mark();
    await alice.groupchat(room, '!ping');
    await expectBody(alice, `${room}/hivebot`, 'pong', { since });
    since = alice.mark();
    await alice.groupchat(room, 'hivebot: ping');
    await expectBody(alice, `${room}/hivebot`, 'pong', { since });

    since = alice.mark();
    await alice.chat(`${BOT.user}@localhost`, 'ping');
    await expectBody(alice, `${BOT.user}@localhost/`, 'pong', { since });
    since = alice.mark();
    await alice.chat(`${BOT.user}@localhost`, '!ping');
    // Wait for the answer itself: a fixed pause was a latency bound on a loaded machine.
    await expectBody(alice, `${BOT.user}@localhost/`, 'pong', { since });
    // Ordinary talk gets no answer; each answer went where it was asked, once. The mouth must have
    // read the talk before the short pause for "nothing else came" means anything.
    const linesIn = () => hive!.logs.filter((l) => l.node === 'mouth' && l.msg === 'line in').length;
    const before = linesIn();
    await alice.groupchat(room, 'just chatting about ping');
    await waitFor(() => linesIn() > before, { timeout: 10_000, what: 'the mouth reading the talk' });
    await sleep(300);
    expect(bodiesFrom(alice, `${room}/hivebot`)).toEqual(['pong', 'pong']);
    expect(bodiesFrom(alice, `${BOT.user}@localhost/`)).toEqual(['pong', 'pong']);
    const mouth = await hive.node('mouth');
    expect(mouth.counters['xmpp.connects']).toBe(1);
    expect(mouth.counters['xmpp.identified']).toBe(1);
    expect(mouth.counters['xmpp.malformed']).toBe(0);
  });
});
