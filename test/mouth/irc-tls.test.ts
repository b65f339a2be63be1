// TLS to ngIRCd with a certificate from the harness's throw-away CA: verified against ca_file it
// works; without ca_file (tls_verify defaults to true) the connection is refused and logged.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startNgircd, type Ircd } from '../helpers/ircd.js';
import { connectClient, type IrcTestClient } from '../helpers/irc-client.js';
import { startHive, type TestHive } from '../helpers/hive.js';
import { waitFor } from '../helpers/wait.js';
import { botJoined, expectPrivmsg, ircNetwork, logsOf, waitForNodeLog } from './util.js';

let ircd: Ircd;
let hive: TestHive | undefined;
const clients: IrcTestClient[] = [];

beforeAll(async () => { ircd = await startNgircd({ tls: true }); });
afterAll(async () => { await ircd?.stop(); });
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await hive?.stop();
  hive = undefined;
});

async function watcher(): Promise<IrcTestClient> {
  const c = await connectClient({ host: ircd.host, port: ircd.port, nick: 'watcher' });
  clients.push(c);
  await c.join('#one');
  return c;
}

async function whois(c: IrcTestClient, nick: string): Promise<string[]> {
  const since = c.mark();
  c.send(`WHOIS ${nick}`);
  await c.waitFor((l) => l.command === '318', { since });
  return c.lines.slice(since).map((l) => l.command);
}

describe('TLS on ngIRCd', () => {
  it('connects with certificate verification against ca_file', async () => {
    const w = await watcher();
    hive = await startHive({
      networks: { net: ircNetwork(ircd, { port: ircd.tlsPort, tls: true, ca_file: ircd.caFile }) },
      plugins: [{ name: 'ping', use: 'ping' }],
    });
    await botJoined(w, 'hivebot', '#one');
    // ngIRCd's 275 (671 elsewhere): "is connected via SSL (secure link)".
    expect(await whois(w, 'hivebot')).toContain('275');
    expect(await whois(w, 'watcher')).not.toContain('275');
    const since = w.mark();
    w.say('#one', '!ping');
    await expectPrivmsg(w, 'hivebot', '#one', 'pong', { since });
  });

  it('refuses a certificate it cannot verify when no ca_file is given', async () => {
    const w = await watcher();
    hive = await startHive({
      networks: { net: ircNetwork(ircd, { port: ircd.tlsPort, tls: true, reconnect: { min_delay: 200, max_delay: 400 } }) },
      plugins: [{ name: 'ping', use: 'ping' }],
    });
    const failed = await waitForNodeLog(hive, 'mouth', 'disconnected; reconnecting');
    expect(String(failed.reason)).toMatch(/certificate/i);
    expect(failed.wasRegistered).toBe(false);
    // It keeps refusing on every attempt, and never registers.
    // Wait for the second attempt itself: a fixed 1 s had to hold the backoff, a TCP connect, a TLS
    // handshake and the log's way here, which a loaded machine can exceed.
    const refusals = () => logsOf(hive!, 'mouth').filter((l) => l.msg === 'disconnected; reconnecting');
    await waitFor(() => refusals().length >= 2, { timeout: 15_000, what: 'a second refused attempt' });
    const attempts = refusals();
    expect(attempts.every((l) => /certificate/i.test(String(l.reason)))).toBe(true);
    expect(logsOf(hive, 'mouth').filter((l) => l.msg === 'registered')).toEqual([]);
    expect(await whois(w, 'hivebot')).toContain('401');
  });
});
