// `hive reload` of the networks (issue 20) on a running hive on ngIRCd, seen by a raw client in
// the channels: a network's channels joined and parted without reconnecting, a network added,
// reconnected with a new nick and removed — each time the bot's other network never leaves the
// channels the change did not touch (no PART, QUIT or JOIN of it), and the mouth is not restarted.
// Hostile: Mouth1.Configure from anyone but the supervisor is refused and counted; a terminal
// network cannot come live (refused naming the key, nothing changed).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { startNgircd, type Ircd } from '../helpers/ircd.js';
import { connectClient, type IrcLine, type IrcTestClient } from '../helpers/irc-client.js';
import { startHive, type TestHive } from '../helpers/hive.js';
import { waitFor } from '../helpers/wait.js';
import { botJoined, expectPrivmsg, ircNetwork } from '../mouth/util.js';
import { callWithDeadline, connectBus } from '../../protocol/sdk/bus.js';
import { MOUTH1, MOUTH_PATH } from '../../protocol/mouth1.js';

let ircd: Ircd;
let hive: TestHive;
let watcher: IrcTestClient;

beforeAll(async () => {
  ircd = await startNgircd();
  watcher = await connectClient({ host: ircd.host, port: ircd.port, nick: 'watcher' });
  for (const ch of ['#one', '#two', '#three']) await watcher.join(ch);
  hive = await startHive({ networks: { net: ircNetwork(ircd, { channels: ['#one', '#two'] }) }, plugins: [{ name: 'ping', use: 'ping' }] });
  await botJoined(watcher, 'hivebot', '#one');
  await botJoined(watcher, 'hivebot', '#two');
}, 60_000);
afterAll(async () => {
  watcher?.close();
  await hive?.stop();
  await ircd?.stop();
});

type Config = { networks: Record<string, Record<string, unknown>>; [k: string]: unknown };
async function edit(change: (c: Config) => void): Promise<void> {
  const c = parse(await readFile(hive.configFile, 'utf8')) as Config;
  change(c);
  await writeFile(hive.configFile, stringify(c));
}
const reload = (...args: string[]) => hive.cli('reload', '--config', hive.configFile, ...args);
const moves = (nick: string, since: number): string[] => watcher.lines.slice(since)
  .filter((l: IrcLine) => l.nick?.toLowerCase() === nick.toLowerCase() && ['JOIN', 'PART', 'QUIT', 'NICK'].includes(l.command))
  .map((l) => `${l.command} ${l.command === 'QUIT' ? '' : l.params[0]}`.trim());
const mouth = async () => (await hive.tree()).find((n) => n.name === 'mouth')!;

describe('hive reload: networks', () => {
  it('joins and parts a network\'s channels without reconnecting it', { timeout: 60_000 }, async () => {
    const since = watcher.mark();
    const pid = (await mouth()).pid;
    const connects = (await mouth()).counters['net.connects'];
    await edit((c) => { c.networks.net!.channels = ['#one', '#three']; });
    const dry = await reload('--dry-run');
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/network {2}net: join #three, part #two \(no reconnect\)/);
    const r = await reload('--json');
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    // What the mouth says it did: the channels, on the open connection.
    expect((JSON.parse(r.stdout) as { networks: unknown }).networks).toEqual([{ network: 'net', did: 'channels' }]);
    await botJoined(watcher, 'hivebot', '#three', { since });
    await watcher.waitFor((l) => l.command === 'PART' && l.nick === 'hivebot' && l.params[0] === '#two', { since });
    const s = watcher.mark();
    watcher.say('#three', '!ping');
    await expectPrivmsg(watcher, 'hivebot', '#three', 'pong', { since: s });
    expect(moves('hivebot', since).sort()).toEqual(['JOIN #three', 'PART #two']);
    const m = await mouth();
    expect(m.pid).toBe(pid);
    expect(m.counters['net.connects']).toBe(connects);
  });

  it('adds a network, reconnects it alone when its nick changes, and removes it; the other never moves', { timeout: 60_000 }, async () => {
    const since = watcher.mark();
    const pid = (await mouth()).pid;
    await edit((c) => { c.networks.second = ircNetwork(ircd, { nick: 'hivebot2', channels: ['#one'] }); });
    let r = await reload();
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/network {2}second: add \(connect\)/);
    await botJoined(watcher, 'hivebot2', '#one', { since });
    let s = watcher.mark();
    watcher.say('#one', '!ping');
    await expectPrivmsg(watcher, 'hivebot2', '#one', 'pong', { since: s });
    await waitFor(async () => (await mouth()).counters['second.connects'] === 1, { what: 'the new network\'s counters' });

    s = watcher.mark();
    await edit((c) => { c.networks.second!.nick = 'hivebot3'; });
    r = await reload();
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/network {2}second: reconnect \(nick changed; the other networks stay\)/);
    await botJoined(watcher, 'hivebot3', '#one', { since: s });
    expect(moves('hivebot2', s)).toEqual(['QUIT']);

    s = watcher.mark();
    await edit((c) => { delete c.networks.second; });
    r = await reload();
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    await watcher.waitFor((l) => l.command === 'QUIT' && l.nick === 'hivebot3', { since: s });
    await waitFor(async () => !Object.keys((await mouth()).counters).some((k) => k.startsWith('second.')), { what: 'the removed network\'s counters gone' });

    expect(moves('hivebot', since)).toEqual([]);
    expect((await mouth()).pid).toBe(pid);
  });

  it('refuses Configure from anyone but the supervisor, and a terminal network, changing nothing', { timeout: 60_000 }, async () => {
    const since = watcher.mark();
    const info = JSON.parse(await readFile(join(hive.dir, 'run', `${hive.instance}.json`), 'utf8')) as { bus_address: string };
    const stranger = await connectBus(info.bus_address);
    try {
      const call = (body: string) => callWithDeadline(stranger, { destination: `org.hive.${hive.instance}.mouth`, path: MOUTH_PATH, interface: MOUTH1.name, member: 'Configure', signature: 's', body: [body] }, 5000).then(() => 'ok', (e: { code?: string }) => e.code);
      expect(await call('{}')).toBe('NotAuthorized');
      expect(await call('x'.repeat(200_000))).toBe('NotAuthorized');
    } finally {
      stranger.disconnect();
    }
    await waitFor(async () => (await mouth()).counters.config_refused === 2, { what: 'config_refused counted' });
    const good = await readFile(hive.configFile, 'utf8');
    await edit((c) => { c.networks.console = { type: 'terminal' }; c.networks.net!.channels = ['#one']; });
    const r = await reload();
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/`networks\.console`: a terminal network cannot be added, removed or changed while the hive runs/);
    await writeFile(hive.configFile, good);
    // The bot is still in #three: the channel change that came with the refused one was not made.
    const s = watcher.mark();
    watcher.say('#three', '!ping');
    await expectPrivmsg(watcher, 'hivebot', '#three', 'pong', { since: s });
    expect(moves('hivebot', since)).toEqual([]);
  });
});
