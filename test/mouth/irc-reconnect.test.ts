// The IRC server goes away and comes back: the mouth reconnects, rejoins its channels, and what a
// plugin sent while the network was down goes out afterwards; what did not fit in the bounded
// queue was refused to the plugin with QueueFull.
//
// The bot connects through a TCP gate in front of ngIRCd, so the test can keep it from coming
// back until the raw client has rejoined (else the raw client could miss what it checks for).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startNgircd, type Ircd } from '../helpers/ircd.js';
import { connectClient, type IrcTestClient } from '../helpers/irc-client.js';
import { startHive, type TestHive } from '../helpers/hive.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { botJoined, exec, expectPrivmsg, ircNetwork, logsOf, privmsgsFrom, startGate, waitForNodeLog, type Gate } from './util.js';

let ircd: Ircd;
let gate: Gate;
let hive: TestHive | undefined;
const clients: IrcTestClient[] = [];

beforeAll(async () => {
  ircd = await startNgircd();
  gate = await startGate(ircd.port);
});
afterAll(async () => {
  await gate?.close();
  await ircd?.stop();
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await hive?.stop();
  hive = undefined;
});

async function watcher(): Promise<IrcTestClient> {
  const c = await connectClient({ host: ircd.host, port: ircd.port, nick: 'watcher' });
  clients.push(c);
  await c.join('#one');
  await c.join('#two');
  return c;
}

describe('server restart', () => {
  it('reconnects, rejoins, and sends what was queued while down; overflow is refused with QueueFull', async () => {
    const before = await watcher();
    hive = await startHive({
      networks: { net: ircNetwork({ host: '127.0.0.1', port: gate.port }, { channels: ['#one', '#two'], queue_max: 10, reconnect: { min_delay: 100, max_delay: 400 } }) },
      plugins: [{ name: 'flood', exec: exec('flood') }, { name: 'ping', use: 'ping' }, { name: 'recorder', exec: exec('recorder') }],
    });
    await botJoined(before, 'hivebot', '#one');
    await botJoined(before, 'hivebot', '#two');
    // The recorder is attached (it may attach after the bot has joined, and what it is handed on
    // attaching must come before the events looked at below).
    await waitForNodeLog(hive, 'recorder', 'attached to parent');

    // The plugin will send 8 messages when told to (SIGUSR2), which the test does once the mouth
    // has logged the server gone: not on a timer, which a loaded machine could outrun.
    before.say('#one', '!flood 8 signal');
    const scheduled = await waitForNodeLog(hive, 'flood', 'flood scheduled');
    gate.open = false;
    await ircd.kill();
    const down = await waitForNodeLog(hive, 'mouth', 'disconnected; reconnecting');
    process.kill(scheduled.process as number, 'SIGUSR2');
    const fired = await waitForNodeLog(hive, 'flood', 'flood fired');
    const result = await waitForNodeLog(hive, 'flood', 'flood result', () => true, 10_000);
    expect(down.time as number).toBeLessThanOrEqual(fired.time as number);
    // Five fit in the plugin's share of the queue (half of queue_max 10); three were refused to
    // the plugin, not dropped silently.
    expect(result).toMatchObject({ n: 8, ok: 5, errors: { 'org.hive.Error.QueueFull': 3 } });
    // (Each process writes its log asynchronously: wait for the mouth's lines rather than expect them now.)
    await waitFor(() => logsOf(hive!, 'mouth').filter((l) => l.msg === 'outbound message refused' && l.code === 'QueueFull').length === 3, { what: 'three QueueFull refusals logged' });
    // It keeps trying meanwhile, with backoff.
    await waitFor(() => logsOf(hive!, 'mouth').filter((l) => l.msg === 'disconnected; reconnecting').length >= 3, { what: 'reconnect attempts' });
    expect(logsOf(hive, 'mouth').some((l) => l.msg === 'registered' && (l.time as number) > (down.time as number))).toBe(false);

    await ircd.start();
    const after = await watcher();
    gate.open = true;
    await botJoined(after, 'hivebot', '#one');
    await botJoined(after, 'hivebot', '#two');
    await waitFor(() => privmsgsFrom(after, 'hivebot', '#one').length >= 5, { what: 'the queued messages' });
    await sleep(300);
    expect(privmsgsFrom(after, 'hivebot', '#one').map((l) => l.params[1])).toEqual(['flood 1/8', 'flood 2/8', 'flood 3/8', 'flood 4/8', 'flood 5/8']);
    // Rejoined before sending: the server refused none of the lines (no 404 "cannot send").
    const back = await waitFor(() => logsOf(hive!, 'mouth').filter((l) => l.msg === 'registered')[1], { what: 'the second registration logged' });
    expect(logsOf(hive, 'mouth').filter((l) => l.msg === 'IRC error' && (l.time as number) >= (back.time as number))).toEqual([]);
    const since = after.mark();
    after.say('#two', '!ping');
    await expectPrivmsg(after, 'hivebot', '#two', 'pong', { since });
    expect(logsOf(hive, 'mouth').filter((l) => l.msg === 'registered')).toHaveLength(2);
    // The plugins were told: disconnected (with the reason), connecting again, registered again.
    // By when the mouth sent them: the first registration may reach the recorder (in its catch-up
    // on attaching) after the flood was scheduled, but the mouth sent it before.
    const eventsSince = () => logsOf(hive!, 'recorder').filter((l) => l.msg === 'event' && (l.hiveTime as number) >= (scheduled.time as number));
    await waitFor(() => eventsSince().some((l) => l.event === 'registered'), { what: 'the registered event' });
    const events = eventsSince();
    const kinds = events.map((l) => l.event as string);
    expect(kinds[0]).toBe('disconnected');
    expect(String(events[0]!.reason)).not.toBe('');
    expect(kinds.at(-1)).toBe('registered');
    expect(events.at(-1)!.nick).toBe('hivebot');
    expect(kinds.filter((k) => k === 'connecting').length).toBeGreaterThanOrEqual(3);
    expect(new Set(kinds)).toEqual(new Set(['disconnected', 'connecting', 'registered']));
  });
});
