// The stats filter in real trees. On ngIRCd: commands per plugin, user and channel as `stats`
// shows them (unanswered commands and chat not counted), and `stats reset` only with stats.reset.
// On the terminal: the counts in the node's Details property over D-Bus, kept in the state folder
// and still there after a kill -9 and restart.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startNgircd, type Ircd } from '../helpers/ircd.js';
import { connectClient, type IrcTestClient } from '../helpers/irc-client.js';
import { startHive, type TestHive } from '../helpers/hive.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { botJoined, exec, expectPrivmsg, ircNetwork } from '../mouth/util.js';
import { callWithDeadline, connectBus } from '../../protocol/sdk/bus.js';
import { NODE_INTERFACE, NODE_PATH, nodeBusName } from '../../protocol/names.js';

let hive: TestHive | undefined;
const clients: IrcTestClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await hive?.stop();
  hive = undefined;
});

const attached = (h: TestHive, node: string, times = 1) => waitFor(() => h.logs.filter((l) => l.node === node && l.msg === 'attached to parent').length >= times, { timeout: 20_000, what: `${node} attached` });
const TODAY = () => new Date().toISOString().slice(0, 10);

describe('stats on ngIRCd', () => {
  let ircd: Ircd;
  beforeAll(async () => { ircd = await startNgircd(); });
  afterAll(async () => { await ircd?.stop(); });

  it('counts answered commands per plugin, user and channel; reset needs stats.reset', async () => {
    const connect = async (nick: string) => {
      const c = await connectClient({ host: ircd.host, port: ircd.port, nick });
      clients.push(c);
      await c.join('#one');
      await c.join('#two');
      return c;
    };
    const alice = await connect('alice');
    const bob = await connect('bob');
    hive = await startHive({
      networks: { net: ircNetwork(ircd, { channels: ['#one', '#two'] }) },
      plugins: [
        { name: 'grant', exec: exec('grant'), config: { grants: { alice: ['stats.reset'] } } },
        { name: 'stats', use: 'stats', parent: 'grant' },
        { name: 'ping', use: 'ping', parent: 'stats' },
        { name: 'echo', use: 'echo', parent: 'stats' },
      ],
    });
    await botJoined(alice, 'hivebot', '#two');
    await attached(hive, 'ping');
    await attached(hive, 'echo');

    const ask = async (who: IrcTestClient, where: string, text: string, answer: string | RegExp) => {
      const since = who.mark();
      who.say(where, text);
      await expectPrivmsg(who, 'hivebot', where.startsWith('#') ? where : who.nick, answer, { since, timeout: 15_000 });
    };
    await ask(alice, '#one', '!ping', 'pong');
    await ask(alice, '#one', 'hivebot: ping', 'pong');
    await ask(bob, '#two', '!echo hi there', 'hi there');
    await ask(bob, 'hivebot', 'ping', 'pong');
    // Neither counts: no plugin answers them.
    bob.say('#two', '!nosuchcommand');
    bob.say('#one', 'just talking');
    await sleep(300);
    await ask(bob, '#two', '!stats', `4 commands since ${TODAY()} · top plugins: ping 3, echo 1 · top users: alice 2, bob 2 · top channels: #one 2, #two 1`);
    // The stats command itself counts once answered.
    await ask(alice, '#one', '!stats', `5 commands since ${TODAY()} · top plugins: ping 3, echo 1, stats 1 · top users: bob 3, alice 2 · top channels: #one 2, #two 2`);

    await ask(bob, '#one', '!stats reset', 'stats reset needs the stats.reset capability');
    await ask(bob, '#one', '!stats frobnicate', 'usage: !stats shows the counts, !stats reset clears them');
    await ask(alice, '#one', '!stats reset', 'stats reset: all counts cleared');
    await ask(bob, '#one', '!stats', /^no commands counted since \d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
    await ask(alice, '#one', '!ping', 'pong');
    await ask(alice, '#one', '!stats', `2 commands since ${TODAY()} · top plugins: ping 1, stats 1 · top users: alice 1, bob 1 · top channels: #one 2`);
  });
});

describe('stats on the terminal', () => {
  it('publishes the counts as Details and keeps them across a kill -9', async () => {
    hive = await startHive({
      networks: { console: { type: 'terminal', quiet_ms: 200 } },
      plugins: [
        { name: 'stats', use: 'stats', config: { save_delay: '300ms', top: 2 } },
        { name: 'ping', use: 'ping', parent: 'stats' },
        { name: 'echo', use: 'echo', parent: 'stats' },
      ],
    });
    const h = hive;
    await attached(h, 'ping');
    await attached(h, 'echo');
    const talk = async (text: string, answer: string) => {
      const mark = h.stdout.length;
      h.say(text);
      await h.expectOutput(answer, { since: mark, timeout: 15_000 });
    };
    for (let i = 0; i < 3; i++) await talk('!ping', 'pong');
    await talk('!echo one', 'one');
    await talk('!echo two', 'two');
    await talk('!ping', 'pong');

    // Details over D-Bus, as `hive tree` or any bus client reads it.
    const runtime = JSON.parse(await readFile(join(h.env.HIVE_RUNTIME_DIR!, `${h.instance}.json`), 'utf8')) as { bus_address: string };
    const bus = await connectBus(runtime.bus_address);
    try {
      const details = async () => {
        const reply = await callWithDeadline(bus, { destination: nodeBusName(h.instance, 'stats'), path: NODE_PATH, interface: 'org.freedesktop.DBus.Properties', member: 'Get', signature: 'ss', body: [NODE_INTERFACE, 'Details'] }, 10_000);
        const d = reply.body[0].value as Record<string, { signature: string; value: unknown }>;
        return Object.fromEntries(Object.entries(d).map(([k, v]) => [k, v.value]));
      };
      const d = await details();
      expect(d.total).toBe(6n);
      expect(d.plugins).toEqual({ ping: 4n, echo: 2n });
      expect(d.users).toEqual({ you: 6n });
      expect(d.channels).toEqual({ '#console': 6n });
      expect(typeof d.since).toBe('bigint');
    } finally {
      bus.disconnect();
    }

    // Written after the save delay; then a kill -9 loses nothing.
    const file = join(h.dir, 'state', 'stats', 'stats.json');
    await waitFor(async () => (JSON.parse(await readFile(file, 'utf8')) as { total: number }).total === 6, { timeout: 15_000, what: 'the counts saved' });
    const before = await h.node('stats');
    process.kill(before.pid!, 'SIGKILL');
    await waitFor(async () => { const n = await h.node('stats'); return n.state === 'running' && n.pid !== before.pid; }, { timeout: 20_000, what: 'stats restarted' });
    await attached(h, 'stats', 2);
    await attached(h, 'ping', 2);
    await talk('!stats', `6 commands since ${TODAY()} · top plugins: ping 4, echo 2 · top users: you 6 · top channels: #console 6`);
    await talk('!ping', 'pong');
    await talk('!stats', `8 commands since ${TODAY()} · top plugins: ping 5, echo 2 · top users: you 8 · top channels: #console 8`);
    expect(h.logs.filter((l) => l.node === 'stats' && Number(l.level) >= 50)).toEqual([]);
  });
});
