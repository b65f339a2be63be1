// The mouth's connection life on ngIRCd (issue 4): a dead connection (no answer to PING) is
// dropped and reconnected; the wanted nick is taken back once it is free.
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startNgircd, type Ircd } from '../helpers/ircd.js';
import { connectClient, type IrcTestClient } from '../helpers/irc-client.js';
import { startHive, type TestHive } from '../helpers/hive.js';
import { botJoined, ircNetwork } from './util.js';

let ircd: Ircd;
let watcher: IrcTestClient;
let hive: TestHive | undefined;

beforeAll(async () => {
  ircd = await startNgircd();
  watcher = await connectClient({ host: ircd.host, port: ircd.port, nick: 'watcher' });
  await watcher.join('#one');
});
afterEach(async () => {
  await hive?.stop();
  hive = undefined;
});
afterAll(async () => {
  watcher?.close();
  await ircd?.stop();
});

/** A TCP forwarder whose current connections can be silenced (bytes stop, sockets stay open). */
async function startSilencer(target: number) {
  const pairs: { down: net.Socket; up: net.Socket }[] = [];
  const all: net.Socket[] = [];
  const server = net.createServer((down) => {
    const up = net.connect({ host: '127.0.0.1', port: target });
    down.pipe(up);
    up.pipe(down);
    const end = () => { down.destroy(); up.destroy(); };
    down.on('error', end); up.on('error', end); down.on('close', end); up.on('close', end);
    pairs.push({ down, up });
    all.push(down, up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    silence() {
      for (const { down, up } of pairs.splice(0)) { down.unpipe(up); up.unpipe(down); down.pause(); up.pause(); }
    },
    close: () => new Promise<void>((r) => { for (const sock of all) sock.destroy(); server.close(() => r()); }),
  };
}

describe('connection life', () => {
  it('drops a connection that stops answering and connects again', async () => {
    const silencer = await startSilencer(ircd.port);
    try {
      hive = await startHive({ networks: { irc: ircNetwork({ host: ircd.host, port: silencer.port }, { nick: 'deadbot', alt_nicks: ['deadalt'], ping_timeout: '2s' }) }, plugins: [{ name: 'ping', use: 'ping' }] });
      await botJoined(watcher, 'deadbot', '#one');
      const mark = watcher.mark();
      silencer.silence();
      const dropped = await hive.waitForLog((l) => l.msg === 'disconnected; reconnecting', 15_000);
      expect(String(dropped.reason)).toContain('ping timeout');
      // The old connection still holds 'deadbot' on the server, so it comes back as the alternate.
      await botJoined(watcher, 'deadalt', '#one', { since: mark, timeout: 15_000 });
      watcher.say('#one', '!ping');
      await watcher.waitFor((l) => l.nick === 'deadalt' && l.params[1] === 'pong', { since: mark, timeout: 10_000 });
    } finally {
      await silencer.close();
    }
  });

  it('takes the wanted nick back once it is free', async () => {
    const holder = await connectClient({ host: ircd.host, port: ircd.port, nick: 'wantbot' });
    hive = await startHive({ networks: { irc: ircNetwork(ircd, { nick: 'wantbot', alt_nicks: ['wantalt'], nick_regain: '500ms' }) }, plugins: [{ name: 'ping', use: 'ping' }] });
    await botJoined(watcher, 'wantalt', '#one');
    const mark = watcher.mark();
    await holder.quit('making room');
    const nick = await watcher.waitFor((l) => l.command === 'NICK' && l.nick === 'wantalt', { since: mark, timeout: 10_000 });
    expect(nick.params[0]).toBe('wantbot');
    await hive.waitForLog((l) => l.node === 'mouth' && l.msg === 'nick changed' && l.nick === 'wantbot');
    watcher.say('#one', 'wantbot: ping');
    await watcher.waitFor((l) => l.nick === 'wantbot' && l.params[1] === 'pong', { since: mark, timeout: 10_000 });
  });
});
