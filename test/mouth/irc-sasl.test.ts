// InspIRCd 3 with Atheme services: the bot logs in with SASL PLAIN to an account registered with
// the services, and IRCv3 account-tag, message-tags and server-time reach the plugins as metadata.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startInspircd, type Ircd } from '../helpers/ircd.js';
import { connectClient, type IrcTestClient } from '../helpers/irc-client.js';
import { startHive, type TestHive } from '../helpers/hive.js';
import { botJoined, exec, expectPrivmsg, ircNetwork, waitForNodeLog } from './util.js';

const BOT = { name: 'hiveacct', password: 'bot-secret-1' };
const ALICE = { name: 'alice', password: 'alice-secret-1' };

let ircd: Ircd;
let hive: TestHive | undefined;
const clients: IrcTestClient[] = [];

beforeAll(async () => { ircd = await startInspircd({ accounts: [BOT, ALICE] }); });
afterAll(async () => { await ircd?.stop(); });
afterEach(async () => {
  delete process.env.HIVE_TEST_SASL_PASSWORD;
  for (const c of clients.splice(0)) c.close();
  await hive?.stop();
  hive = undefined;
});

async function client(nick: string, opts: { sasl?: typeof ALICE } = {}): Promise<IrcTestClient> {
  const c = await connectClient({
    host: ircd.host, port: ircd.port, nick,
    sasl: opts.sasl ? { account: opts.sasl.name, password: opts.sasl.password } : undefined,
  });
  clients.push(c);
  await c.join('#one');
  return c;
}

async function whoisAccount(c: IrcTestClient, nick: string): Promise<string | undefined> {
  const since = c.mark();
  c.send(`WHOIS ${nick}`);
  await c.waitFor((l) => l.command === '318', { since });
  return c.lines.slice(since).find((l) => l.command === '330')?.params[2];
}

describe('SASL and IRCv3 metadata on InspIRCd + Atheme', () => {
  it('logs in with SASL PLAIN and passes account, tags and server-time to the plugins', async () => {
    const alice = await client('alice', { sasl: ALICE });
    const bob = await client('bob');
    // The password as operators are told to give it: from the environment (the hive inherits ours).
    process.env.HIVE_TEST_SASL_PASSWORD = BOT.password;
    hive = await startHive({
      networks: { net: ircNetwork(ircd, { sasl: { mechanism: 'PLAIN', account: BOT.name, password: '${HIVE_TEST_SASL_PASSWORD}' } }) },
      plugins: [{ name: 'recorder', exec: exec('recorder') }, { name: 'ping', use: 'ping' }],
    });
    await botJoined(alice, 'hivebot', '#one');
    expect(await whoisAccount(alice, 'hivebot')).toBe(BOT.name);

    alice.say('#one', 'hello from alice');
    bob.say('#one', 'hello from bob');
    const fromAlice = await waitForNodeLog(hive, 'recorder', 'seen', (l) => String(l.text).endsWith('PRIVMSG #one :hello from alice'));
    const tags = fromAlice.tags as Record<string, string>;
    expect(fromAlice.account).toBe(ALICE.name);
    expect(tags.account).toBe(ALICE.name);
    expect(tags.msgid).toMatch(/\S/);
    expect(tags.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    // hive.time is the server's time, not the mouth's receive time.
    expect(fromAlice.hiveTime).toBe(Date.parse(tags.time!));
    expect(Math.abs((fromAlice.hiveTime as number) - Date.now())).toBeLessThan(10_000);
    // The raw bytes still carry the tags as the server sent them.
    expect(Buffer.from(String(fromAlice.hex), 'hex').toString('utf8')).toMatch(/^@\S*account=alice\S* :alice!/);

    const fromBob = await waitForNodeLog(hive, 'recorder', 'seen', (l) => String(l.text).endsWith('PRIVMSG #one :hello from bob'));
    expect(fromBob.account).toBeUndefined();
    expect((fromBob.tags as Record<string, string>).account).toBeUndefined();
    expect(typeof fromBob.hiveTime).toBe('number');

    // And the password never shows in a log line.
    expect(JSON.stringify(hive.logs)).not.toContain(BOT.password);
    const since = alice.mark();
    alice.say('#one', '!ping');
    await expectPrivmsg(alice, 'hivebot', '#one', 'pong', { since });
  });

  it('reports a failed SASL login and stays unidentified', async () => {
    const alice = await client('alice');
    hive = await startHive({
      networks: { net: ircNetwork(ircd, { sasl: { mechanism: 'PLAIN', account: BOT.name, password: 'wrong-password' } }) },
      plugins: [{ name: 'ping', use: 'ping' }],
    });
    await waitForNodeLog(hive, 'mouth', 'SASL login failed', () => true, 15_000);
    await botJoined(alice, 'hivebot', '#one');
    expect(await whoisAccount(alice, 'hivebot')).toBeUndefined();
  });
});
