// InspIRCd 3 with Atheme services: the bot logs in with SASL PLAIN to an account registered with
// the services, and IRCv3 account-tag, message-tags and server-time reach the plugins as metadata;
// when the services were down as it connected, it logs in once they are back (cap-notify).
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { findProgram, startInspircd, type Ircd } from '../helpers/ircd.js';
import { capLs, connectClient, type IrcTestClient } from '../helpers/irc-client.js';
import { startFakeIrcd } from '../helpers/fake-ircd.js';
import { alive, startHive, type TestHive } from '../helpers/hive.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { botJoined, exec, expectPrivmsg, ircNetwork, logsOf, waitForNodeLog } from './util.js';

const BOT = { name: 'hiveacct', password: 'bot-secret-1' };
const ALICE = { name: 'alice', password: 'alice-secret-1' };

let ircd: Ircd;
let hive: TestHive | undefined;
const clients: IrcTestClient[] = [];

beforeAll(async () => { ircd = await startInspircd({ accounts: [BOT, ALICE] }); });
let atheme: ChildProcess | undefined;
afterAll(async () => {
  if (atheme && atheme.exitCode === null) {
    atheme.kill('SIGTERM');
    await new Promise((r) => atheme!.once('exit', r));
  }
  await ircd?.stop();
});
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

async function offersSasl(): Promise<boolean> {
  const c = await connectClient({ host: ircd.host, port: ircd.port, nick: 'probe', register: false });
  try { return (await capLs(c, 3_000)).has('sasl'); } finally { c.close(); }
}

/** Atheme's files as test/helpers/ircd.ts lays them out. */
const athemeDir = () => path.join(ircd.dir, 'atheme');

/** Stops the services the helper started (InspIRCd stays up) and waits until SASL is gone. */
async function stopServices(): Promise<void> {
  const pid = Number(readFileSync(path.join(athemeDir(), 'atheme.pid'), 'utf8').trim());
  // SIGKILL, as services die when they crash: after a SIGTERM, Atheme 7.2's shutdown of its uplink
  // fails (ENOTCONN) and InspIRCd went on offering sasl for 12 s or more on a loaded machine.
  process.kill(pid, 'SIGKILL');
  await waitFor(async () => (await offersSasl()) ? undefined : true, { timeout: 15_000, interval: 200, what: () => `InspIRCd to stop offering sasl (atheme ${pid} alive: ${alive(pid)})` });
}

/** Starts Atheme again as the helper does; this file stops it in afterAll. */
async function startServices(): Promise<void> {
  rmSync(path.join(athemeDir(), 'atheme.pid'), { force: true });
  const out = openSync(path.join(athemeDir(), 'atheme.out'), 'a');
  atheme = spawn(findProgram('atheme-services', 'atheme-services'), ['-n', '-c', path.join(athemeDir(), 'atheme.conf'), '-D', athemeDir(),
    '-l', path.join(athemeDir(), 'atheme.log'), '-p', path.join(athemeDir(), 'atheme.pid')], { cwd: athemeDir(), stdio: ['ignore', out, out] });
  closeSync(out);
  await waitFor(async () => (await offersSasl()) ? true : undefined, { timeout: 20_000, interval: 200, what: 'Atheme linked again (sasl offered)' });
}

describe('SASL when the services come and go', () => {
  it('does not report a SASL failure as the reason of a later disconnect', async () => {
    // A server without SASL: irc-framework reports capability_missing before registering.
    const fake = await startFakeIrcd({ caps: ['multi-prefix'] });
    try {
      hive = await startHive({
        networks: { fake: ircNetwork(fake, { sasl: { mechanism: 'PLAIN', account: BOT.name, password: 'x' } }) },
        plugins: [{ name: 'recorder', exec: exec('recorder') }],
      });
      const failed = await waitForNodeLog(hive, 'mouth', 'SASL login failed');
      expect(failed.reason).toBe('capability_missing');
      await fake.waitRegistered();
      await waitForNodeLog(hive, 'mouth', 'registered');
      fake.dropClients();
      const down = await waitForNodeLog(hive, 'mouth', 'disconnected; reconnecting');
      expect(down.reason).toBe('connection closed');
      const event = await waitForNodeLog(hive, 'recorder', 'event', (l) => l.event === 'disconnected');
      expect(event.reason).toBe('connection closed');
    } finally {
      await hive?.stop();
      hive = undefined;
      await fake.close();
    }
  });

  it('logs in at once on CAP NEW sasl (cap-notify), without reconnecting', async () => {
    const fake = await startFakeIrcd({ caps: ['cap-notify'] });
    try {
      hive = await startHive({
        networks: { fake: ircNetwork(fake, { sasl: { mechanism: 'PLAIN', account: BOT.name, password: 'pw-1', retry: '1h' } }) },
        plugins: [{ name: 'ping', use: 'ping' }],
      });
      const c = await fake.waitRegistered();
      await waitForNodeLog(hive, 'mouth', 'registered');
      fake.send(':fake.test CAP hivebot NEW :sasl=PLAIN,EXTERNAL');
      await fake.waitLine(/^AUTHENTICATE PLAIN$/);
      fake.send('AUTHENTICATE +');
      const creds = await fake.waitLine(/^AUTHENTICATE [A-Za-z0-9+/=]{8,}$/);
      expect(Buffer.from(creds.split(' ')[1]!, 'base64').toString()).toBe(`${BOT.name}\0${BOT.name}\0pw-1`);
      fake.send(`:fake.test 900 hivebot hivebot!bot@fake.host ${BOT.name} :You are now logged in as ${BOT.name}`);
      fake.send(':fake.test 903 hivebot :SASL authentication successful');
      expect(await waitForNodeLog(hive, 'mouth', 'identified')).toMatchObject({ network: 'fake', account: BOT.name });
      expect((await hive.node('mouth')).counters['fake.identified']).toBe(1);
      // Services logging the bot out (901) shows too.
      fake.send(':fake.test 901 hivebot hivebot!bot@fake.host :You are now logged out');
      await waitForNodeLog(hive, 'mouth', 'no longer identified');
      expect((await hive.node('mouth')).counters['fake.identified']).toBe(0);
      expect(fake.connections).toEqual([c]);
    } finally {
      await hive?.stop();
      hive = undefined;
      await fake.close();
    }
  });

  it('does not retry a login the services refused (904) until the next connection, and says so once', async () => {
    const fake = await startFakeIrcd({ caps: ['sasl=PLAIN', 'cap-notify'] });
    try {
      hive = await startHive({
        networks: { fake: ircNetwork(fake, { sasl: { mechanism: 'PLAIN', account: BOT.name, password: 'wrong', retry: '1s' } }) },
        plugins: [{ name: 'ping', use: 'ping' }],
      });
      const refuse = async (since: number) => {
        await fake.waitLine(/^AUTHENTICATE PLAIN$/, { since });
        fake.send('AUTHENTICATE +');
        await fake.waitLine(/^AUTHENTICATE [A-Za-z0-9+/=]{8,}$/, { since });
        fake.send(':fake.test 904 hivebot :SASL authentication failed');
      };
      await refuse(0);
      const c = await fake.waitRegistered();
      const failed = await waitForNodeLog(hive, 'mouth', 'SASL login failed');
      expect(failed.reason).toBe('fail');
      const after = c.lines.length;
      // Several retry intervals: no CAP LS probe, no AUTHENTICATE; not even on CAP NEW sasl.
      fake.send(':fake.test CAP hivebot NEW :sasl=PLAIN');
      await sleep(3_500);
      expect(c.lines.slice(after).filter((l) => /^(AUTHENTICATE|CAP LS)/.test(l))).toEqual([]);
      expect(failed.retry).toBe('next connection');
      // A repeated refusal is not logged again.
      fake.send(':fake.test 904 hivebot :SASL authentication failed');
      await sleep(300);
      expect(logsOf(hive, 'mouth').filter((l) => l.msg === 'SASL login failed')).toHaveLength(1);
      // The next connection tries once more.
      const before = fake.connections.length;
      fake.dropClients();
      await waitFor(() => (fake.connections.length > before ? true : undefined), { what: 'a new connection' });
      await refuse(0);
      await fake.waitRegistered({ since: before });
      expect(fake.connections.length).toBe(before + 1);
    } finally {
      await hive?.stop();
      hive = undefined;
      await fake.close();
    }
  });

  it('logs in once the services are back, and says whether it is identified', async () => {
    const alice = await client('alice');
    await stopServices();
    process.env.HIVE_TEST_SASL_PASSWORD = BOT.password;
    hive = await startHive({
      // InspIRCd 3 says no CAP NEW when the same services come back: the bot asks (CAP LS) every retry.
      networks: { net: ircNetwork(ircd, { sasl: { mechanism: 'PLAIN', account: BOT.name, password: '${HIVE_TEST_SASL_PASSWORD}', retry: '1s' } }) },
      plugins: [{ name: 'ping', use: 'ping' }],
    });
    const failed = await waitForNodeLog(hive, 'mouth', 'SASL login failed', () => true, 15_000);
    expect(failed.reason).toBe('capability_missing');
    await botJoined(alice, 'hivebot', '#one');
    expect(await whoisAccount(alice, 'hivebot')).toBeUndefined();
    const registered = await waitForNodeLog(hive, 'mouth', 'registered');
    expect(registered.account).toBeNull();
    expect((await hive.node('mouth')).counters['net.identified']).toBe(0);

    await startServices();
    const identified = await waitForNodeLog(hive, 'mouth', 'identified', () => true, 20_000);
    expect(identified).toMatchObject({ network: 'net', account: BOT.name });
    expect(await whoisAccount(alice, 'hivebot')).toBe(BOT.name);
    expect((await hive.node('mouth')).counters['net.identified']).toBe(1);
    // One connection throughout: it logged in without reconnecting.
    expect((await hive.node('mouth')).counters['net.connects']).toBe(1);
    const since = alice.mark();
    alice.say('#one', '!ping');
    await expectPrivmsg(alice, 'hivebot', '#one', 'pong', { since });
    expect(JSON.stringify(hive.logs)).not.toContain(BOT.password);
  });
});
