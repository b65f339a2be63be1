// The mouth's server password (PASS) and channel keys, on a real ngIRCd seen from raw clients:
// the right password registers, a wrong one is refused by the server and the mouth keeps retrying
// with backoff without crashing or logging the password; a keyed channel is joined with its key,
// a wrong key keeps the bot out (475) while its other channels keep working.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startNgircd, type Ircd } from '../helpers/ircd.js';
import { connectClient, type IrcTestClient } from '../helpers/irc-client.js';
import { startHive, type TestHive } from '../helpers/hive.js';
import { waitFor } from '../helpers/wait.js';
import { botJoined, expectPrivmsg, ircNetwork, logsOf, waitForNodeLog } from './util.js';

// Distinctive, so a search of the logs cannot match by accident.
const PASSWORD = 'pw-Qx7rTz91-server';
const WRONG_PASSWORD = 'pw-Wr0ngKm42-server';

let hive: TestHive | undefined;
const clients: IrcTestClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await hive?.stop();
  hive = undefined;
});

/** Registers a raw client by hand, sending PASS first when given. */
async function client(ircd: Ircd, nick: string, opts: { password?: string; channels?: string[] } = {}): Promise<IrcTestClient> {
  const c = await connectClient({ host: ircd.host, port: ircd.port, nick, register: opts.password === undefined });
  clients.push(c);
  if (opts.password !== undefined) {
    const since = c.mark();
    c.send(`PASS ${opts.password}`);
    c.send(`NICK ${nick}`);
    c.send(`USER ${nick} 0 * :${nick}`);
    await c.waitFor((l) => l.command === '001', { since, timeout: 15_000 });
  }
  for (const ch of opts.channels ?? []) await c.join(ch);
  return c;
}

describe('server password', () => {
  let ircd: Ircd;
  beforeAll(async () => { ircd = await startNgircd({ password: PASSWORD }); });
  afterAll(async () => { await ircd?.stop(); });

  it('registers with the right password and answers !ping', async () => {
    const alice = await client(ircd, 'alice', { password: PASSWORD, channels: ['#one'] });
    hive = await startHive({
      networks: { net: ircNetwork(ircd, { password: PASSWORD }) },
      plugins: [{ name: 'ping', use: 'ping' }],
    });
    await botJoined(alice, 'hivebot', '#one');
    const since = alice.mark();
    alice.say('#one', '!ping');
    await expectPrivmsg(alice, 'hivebot', '#one', 'pong', { since });
    expect(logsOf(hive, 'mouth').filter((l) => l.msg === 'registered')).toHaveLength(1);
    // The server password is not also tried as a SASL login (irc-framework's default without an account).
    expect(logsOf(hive, 'mouth').filter((l) => /SASL/.test(String(l.msg)))).toEqual([]);
    expect(JSON.stringify(hive.logs)).not.toContain(PASSWORD);
  });

  it('is refused with a wrong password and keeps retrying with backoff, without crashing or logging it', async () => {
    // The server really refuses that password (seen by a raw client too).
    const probe = await connectClient({ host: ircd.host, port: ircd.port, nick: 'probe', register: false });
    clients.push(probe);
    probe.send(`PASS ${WRONG_PASSWORD}`);
    probe.send('NICK probe');
    probe.send('USER probe 0 * :probe');
    const refusal = await probe.waitFor((l) => l.command === 'ERROR' || l.command === '464' || l.command === '001', { since: 0, timeout: 15_000 });
    expect(refusal.command).not.toBe('001');

    const alice = await client(ircd, 'alice', { password: PASSWORD, channels: ['#one'] });
    hive = await startHive({
      networks: { net: ircNetwork(ircd, { password: WRONG_PASSWORD, reconnect: { min_delay: 200, max_delay: 800 } }) },
      plugins: [{ name: 'ping', use: 'ping' }],
    });
    // Three failed attempts, each logged with the reason the server gave, with growing delays.
    const fails = await waitFor(() => {
      const f = logsOf(hive!, 'mouth').filter((l) => l.msg === 'disconnected; reconnecting');
      return f.length >= 3 ? f : undefined;
    }, { timeout: 20_000, what: 'three failed connection attempts' });
    expect(fails.slice(0, 3).map((l) => l.attempt)).toEqual([1, 2, 3]);
    expect(fails.every((l) => l.wasRegistered === false)).toBe(true);
    // The reason is the server's own ERROR line ("Access denied: Bad password?"), not a bare "connection closed".
    for (const f of fails) expect(String(f.reason)).toMatch(/bad password/i);
    // Backoff: 200 ms doubling (±20 % jitter) up to 800 ms, so each delay is longer than the one before.
    const delays = fails.slice(0, 3).map((l) => l.delayMs as number);
    expect(delays[0]).toBeLessThan(delays[1]!);
    expect(delays[1]).toBeLessThan(delays[2]!);
    expect(Math.max(...delays)).toBeLessThanOrEqual(800);
    expect(logsOf(hive, 'mouth').some((l) => l.msg === 'registered')).toBe(false);
    // The bot never got in.
    expect(alice.lines.some((l) => l.command === 'JOIN' && l.nick === 'hivebot')).toBe(false);
    // Still alive: the mouth was not restarted, the tree is whole.
    const tree = await hive.tree();
    expect(tree.every((n) => n.state === 'running' && n.restarts === 0)).toBe(true);
    const all = JSON.stringify(hive.logs);
    expect(all).not.toContain(WRONG_PASSWORD);
    expect(all).not.toContain(PASSWORD);
  });
});

describe('channel keys', () => {
  let ircd: Ircd;
  beforeAll(async () => { ircd = await startNgircd(); });
  afterAll(async () => { await ircd?.stop(); });

  /** The raw client creates `channel` (first in: operator) and locks it with `key`. */
  async function lock(c: IrcTestClient, channel: string, key: string): Promise<void> {
    await c.join(channel);
    const since = c.mark();
    c.send(`MODE ${channel} +k ${key}`);
    await c.waitFor((l) => l.command === 'MODE' && l.params[0]?.toLowerCase() === channel && l.params[1] === '+k', { since });
  }

  it('joins a channel with its key and answers !ping there', async () => {
    const op = await client(ircd, 'opal', { channels: ['#one'] });
    await lock(op, '#locked', 'sekrit');
    // The lock is real: a join without the key is refused.
    const stranger = await client(ircd, 'stranger');
    await expect(stranger.join('#locked')).rejects.toThrow(/475/);

    hive = await startHive({
      networks: { net: ircNetwork(ircd, { channels: ['#one', { name: '#locked', key: 'sekrit' }] }) },
      plugins: [{ name: 'ping', use: 'ping' }],
    });
    await botJoined(op, 'hivebot', '#locked');
    const since = op.mark();
    op.say('#locked', '!ping');
    await expectPrivmsg(op, 'hivebot', '#locked', 'pong', { since });
    expect(logsOf(hive, 'mouth').filter((l) => l.msg === 'IRC error')).toEqual([]);
  });

  it('stays out with a wrong key, logs the refusal, and keeps working in its other channels', async () => {
    const op = await client(ircd, 'opal', { channels: ['#one'] });
    await lock(op, '#locked', 'sekrit');
    hive = await startHive({
      networks: { net: ircNetwork(ircd, { channels: [{ name: '#locked', key: 'wrong-key' }, '#one'] }) },
      plugins: [{ name: 'ping', use: 'ping' }],
    });
    await botJoined(op, 'hivebot', '#one');
    const refused = await waitForNodeLog(hive, 'mouth', 'IRC error', (l) => l.error === 'bad_channel_key', 15_000);
    expect(refused.channel).toBe('#locked');
    const since = op.mark();
    op.say('#one', '!ping');
    await expectPrivmsg(op, 'hivebot', '#one', 'pong', { since });
    // Not in #locked: NAMES lists only the operator.
    const namesSince = op.mark();
    op.send('NAMES #locked');
    const names = await op.waitFor((l) => l.command === '353', { since: namesSince });
    expect(names.params.at(-1)!.split(' ').map((n) => n.replace(/^[@+]/, ''))).toEqual(['opal']);
    expect(op.lines.some((l) => l.command === 'JOIN' && l.nick === 'hivebot' && l.params[0]?.toLowerCase() === '#locked')).toBe(false);
    const tree = await hive.tree();
    expect(tree.every((n) => n.state === 'running' && n.restarts === 0)).toBe(true);
  });
});
