// Proves the IRC test harness: real servers start, raw clients talk through
// them, a server can be stopped and restarted on the same port, and SASL via
// Atheme works on InspIRCd.
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { capLs, connectClient, saslPlain, type IrcTestClient } from './irc-client.js';
import { startInspircd, startNgircd, type Ircd } from './ircd.js';

const T = 60_000; // generous: servers start in well under a second, but CI machines vary

let servers: Ircd[] = [];
let clients: IrcTestClient[] = [];
afterEach(async () => {
  for (const c of clients) c.close();
  await Promise.all(servers.map((s) => s.stop()));
  clients = [];
  servers = [];
}, T);

async function client(ircd: Ircd, nick: string, extra: Partial<Parameters<typeof connectClient>[0]> = {}): Promise<IrcTestClient> {
  const c = await connectClient({ host: ircd.host, port: ircd.port, nick, ...extra });
  clients.push(c);
  return c;
}

describe('ngIRCd', () => {
  it('two raw clients join a channel and see each other\'s PRIVMSG', async () => {
    const ircd = await startNgircd();
    servers.push(ircd);
    expect(ircd.host).toBe('127.0.0.1');
    expect(ircd.port).toBeGreaterThan(0);

    // Longer than ngIRCd's default MaxNickLength of 9: proves the config took.
    const alice = await client(ircd, 'alice_with_long_nick');
    const bob = await client(ircd, 'bob');
    expect(alice.lines.some((l) => l.command === '001')).toBe(true);

    await alice.join('#hive');
    const m = bob.mark();
    await bob.join('#hive');
    // Alice sees Bob's JOIN.
    await alice.waitFor((l) => l.command === 'JOIN' && l.nick === 'bob' && l.params[0] === '#hive');

    alice.say('#hive', 'hello bob');
    const got = await bob.waitFor((l) => l.command === 'PRIVMSG' && l.params[1] === 'hello bob', { since: m });
    expect(got.nick).toBe('alice_with_long_nick');
    expect(got.params[0]).toBe('#hive');
    expect(got.at).toBeLessThanOrEqual(Date.now());

    bob.say('#hive', 'hi alice: spaces and : colons');
    const back = await alice.waitFor(/PRIVMSG #hive :hi alice/);
    expect(back.params).toEqual(['#hive', 'hi alice: spaces and : colons']);
    expect(back.prefix).toMatch(/^bob!/);

    // No fakelag: a burst arrives promptly (penalties would throttle to ~1 line/s).
    const t0 = Date.now();
    for (let i = 0; i < 30; i++) alice.say('#hive', `burst ${i}`);
    await bob.waitFor(/:burst 29$/);
    expect(Date.now() - t0).toBeLessThan(5_000);

    await alice.quit();
    expect(alice.isClosed).toBe(true);
  }, T);

  it('stops and restarts on the same port; clients see the drop and can reconnect', async () => {
    const ircd = await startNgircd();
    servers.push(ircd);
    const port = ircd.port;
    const alice = await client(ircd, 'alice');

    await ircd.kill();
    await alice.closed; // the server going away closes our socket
    await expect(connectClient({ host: ircd.host, port, nick: 'x', timeoutMs: 2_000 })).rejects.toThrow(/ECONNREFUSED/);

    await ircd.start();
    expect(ircd.port).toBe(port);
    const again = await client(ircd, 'alice');
    const j = await again.join('#back');
    expect(j.params[0]).toBe('#back');

    await ircd.restart();
    await again.closed;
    const third = await client(ircd, 'alice');
    expect(third.lines.find((l) => l.command === '001')?.params[0]).toBe('alice');
  }, T);

  it('offers TLS with a CA file that verifies', async () => {
    const ircd = await startNgircd({ tls: true });
    servers.push(ircd);
    expect(ircd.tlsPort).toBeGreaterThan(0);
    expect(ircd.caFile && existsSync(ircd.caFile)).toBe(true);
    const c = await client(ircd, 'tlsuser', { port: ircd.tlsPort!, tls: true, caFile: ircd.caFile });
    expect(c.lines.some((l) => l.command === '001')).toBe(true);
    // Without the CA the certificate must be rejected.
    await expect(connectClient({ host: ircd.host, port: ircd.tlsPort!, nick: 'x', tls: true })).rejects.toThrow(/certificate/i);
  }, T);

  it('stop() removes its dir and is idempotent', async () => {
    const ircd = await startNgircd();
    await ircd.stop();
    await ircd.stop();
    expect(existsSync(ircd.dir)).toBe(process.env.HIVE_KEEP_IRCD_DIRS === '1');
    await expect(ircd.start()).rejects.toThrow(/stop\(\)ped/);
  }, T);
});

describe('InspIRCd + Atheme', () => {
  const account = { name: 'hivebot', password: 'sekrit-pass' };

  it('raw SASL PLAIN login (903) and IRCv3 caps offered', async () => {
    const ircd = await startInspircd({ account });
    servers.push(ircd);

    const c = await client(ircd, 'hivebot', { register: false });
    const caps = await capLs(c);
    for (const cap of ['sasl', 'server-time', 'account-tag', 'message-tags', 'echo-message']) {
      expect(caps.has(cap), `cap ${cap} offered; got ${[...caps.keys()].join(' ')}`).toBe(true);
    }
    expect(caps.get('sasl')).toMatch(/PLAIN/);

    let m = c.mark();
    c.send('CAP REQ :sasl server-time account-tag message-tags');
    const ack = await c.waitFor((l) => l.command === 'CAP', { since: m });
    expect(ack.params[1]).toBe('ACK');

    c.send('NICK hivebot');
    c.send('USER hivebot 0 * :Hive bot');
    m = c.mark();
    c.send('AUTHENTICATE PLAIN');
    await c.waitFor((l) => l.command === 'AUTHENTICATE' && l.params[0] === '+', { since: m });
    c.send(`AUTHENTICATE ${Buffer.from(`${account.name}\0${account.name}\0${account.password}`).toString('base64')}`);
    const res = await c.waitFor((l) => /^90[2-8]$/.test(l.command), { since: m }); // 900 (logged in) comes first
    expect(res.command).toBe('903');
    const loggedIn = c.lines.find((l) => l.command === '900');
    expect(loggedIn?.params[2]).toBe(account.name);

    c.send('CAP END');
    const welcome = await c.waitFor((l) => l.command === '001', { since: m });
    expect(welcome.tags.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/); // server-time

    // account-tag: an observer sees our login on our messages.
    const obs = await client(ircd, 'observer', { caps: ['account-tag', 'server-time', 'message-tags'] });
    await obs.join('#acct');
    await c.join('#acct');
    c.say('#acct', 'tagged');
    const msg = await obs.waitFor(/PRIVMSG #acct :tagged/);
    expect(msg.tags.account).toBe(account.name);
    expect(msg.tags.time).toBeDefined();
  }, T);

  it('wrong password fails with 904; restart keeps accounts and SASL working', async () => {
    const ircd = await startInspircd({ account, tls: true });
    servers.push(ircd);

    const eve = await client(ircd, 'eve', { register: false });
    await capLs(eve);
    eve.send('CAP REQ :sasl');
    await eve.waitFor(/ CAP .* ACK /, { since: 0 });
    eve.send('NICK eve');
    eve.send('USER eve 0 * :eve');
    await expect(saslPlain(eve, account.name, 'wrong')).rejects.toThrow(/ 904 /);

    // Over TLS with the helper's own SASL option.
    const tlsOpts = { port: ircd.tlsPort!, tls: true, caFile: ircd.caFile };
    await client(ircd, 'hivebot', { ...tlsOpts, sasl: { account: account.name, password: account.password } });

    await ircd.restart();
    const port = ircd.port;
    const again = await client(ircd, 'hivebot', { sasl: { account: account.name, password: account.password } });
    expect(ircd.port).toBe(port);
    expect(again.lines.some((l) => l.command === '903')).toBe(true);
  }, T);
});
