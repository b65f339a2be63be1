// `hive reload` when a step fails, on a running hive on ngIRCd (issue 20's review): a network
// whose new settings cannot be made (a ca_file that is not there) keeps its working connection
// (no QUIT; it answers on); an added network that could not be made is made at the next reload
// once the file is there, though the config did not change; a channel the bot could not join
// (wrong key) is joined when its key is fixed; a ${ENV} secret this shell does not have but the
// supervisor does is no reason for `hive reload --config` to refuse.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { parse, stringify } from 'yaml';
import { startNgircd, type Ircd } from '../helpers/ircd.js';
import { connectClient, type IrcLine, type IrcTestClient } from '../helpers/irc-client.js';
import { HIVE_BIN, startHive, type TestHive } from '../helpers/hive.js';
import { waitFor } from '../helpers/wait.js';
import { botJoined, expectPrivmsg, ircNetwork } from '../mouth/util.js';

const SECRET_VAR = 'HIVE_RELOAD_TEST_SECRET';
let ircd: Ircd;
let hive: TestHive;
let watcher: IrcTestClient;

beforeAll(async () => {
  ircd = await startNgircd();
  watcher = await connectClient({ host: ircd.host, port: ircd.port, nick: 'watcher' });
  await watcher.join('#one');
  // The watcher holds #keyed (first in: operator) with a key the config does not know yet.
  await watcher.join('#keyed');
  watcher.send('MODE #keyed +k sesame');
  await watcher.waitFor((l) => l.command === 'MODE' && l.params[0] === '#keyed' && l.params[1] === '+k', { since: 0 });
  // hive up has the secret in its environment (as a unit's Environment= gives it); the tests' shell does not.
  // (Left set until the end: execa reads the environment when it spawns.)
  process.env[SECRET_VAR] = 'from-the-unit';
  hive = await startHive({ networks: { net: ircNetwork(ircd, { channels: ['#one'] }) }, plugins: [{ name: 'ping', use: 'ping' }] });
  await botJoined(watcher, 'hivebot', '#one');
}, 60_000);
afterAll(async () => {
  delete process.env[SECRET_VAR];
  watcher?.close();
  await hive?.stop();
  await ircd?.stop();
});

type Config = { plugins: Record<string, unknown>[]; networks: Record<string, Record<string, unknown>>; [k: string]: unknown };
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

describe('hive reload: a step that fails', () => {
  it('keeps a network\'s working connection when its new settings cannot be made', { timeout: 60_000 }, async () => {
    const good = await readFile(hive.configFile, 'utf8');
    const since = watcher.mark();
    const pid = (await mouth()).pid;
    await edit((c) => { Object.assign(c.networks.net!, { tls: true, ca_file: join(hive.dir, 'missing-ca.pem') }); });
    const r = await reload();
    expect(r.exitCode, r.stderr + r.stdout).toBe(1);
    expect(r.stdout).toMatch(/network {2}net: reconnect/);
    expect(r.stdout).toMatch(/error: networks: .*missing-ca\.pem/);
    // Still there, still answering; it never left.
    const s = watcher.mark();
    watcher.say('#one', '!ping');
    await expectPrivmsg(watcher, 'hivebot', '#one', 'pong', { since: s });
    expect(moves('hivebot', since)).toEqual([]);
    expect((await mouth()).pid).toBe(pid);
    // The file put back: the mouth runs what it says already; nothing moves.
    await writeFile(hive.configFile, good);
    const back = await reload();
    expect(back.exitCode, back.stderr + back.stdout).toBe(0);
    expect(moves('hivebot', since)).toEqual([]);
  });

  it('makes an added network that failed at the next reload, though the file did not change', { timeout: 60_000 }, async () => {
    const ca = join(hive.dir, 'ca.pem');
    await edit((c) => { c.networks.second = ircNetwork(ircd, { nick: 'hivebot2', tls: true, ca_file: ca }); });
    const r = await reload();
    expect(r.exitCode, r.stderr + r.stdout).toBe(1);
    expect(r.stdout).toMatch(/network {2}second: add \(connect\)/);
    expect(Object.keys((await mouth()).counters).some((k) => k.startsWith('second.'))).toBe(false);
    // The operator puts the file there and reloads the same config: the network is made now.
    await writeFile(ca, '-----BEGIN CERTIFICATE-----\nnot a real one\n-----END CERTIFICATE-----\n');
    const again = await reload('--json');
    expect(again.exitCode, again.stderr + again.stdout).toBe(0);
    const result = JSON.parse(again.stdout) as { plan: { steps: unknown[] }; networks: unknown };
    expect(result.plan.steps).toEqual([]);
    expect(result.networks).toEqual([{ network: 'second', did: 'added' }]);
    await waitFor(async () => ((await mouth()).counters['second.connects'] ?? 0) >= 1, { what: 'the added network connecting' });
    // And in words.
    await edit((c) => { delete c.networks.second; });
    const gone = await reload();
    expect(gone.exitCode, gone.stderr + gone.stdout).toBe(0);
    await waitFor(async () => !Object.keys((await mouth()).counters).some((k) => k.startsWith('second.')), { what: 'second gone' });
    await rm(ca);
  });

  it('joins a listed channel the bot is not in once its key is fixed', { timeout: 60_000 }, async () => {
    const since = watcher.mark();
    await edit((c) => { c.networks.net!.channels = ['#one', { name: '#keyed', key: 'wrong' }]; });
    let r = await reload();
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/network {2}net: join #keyed \(no reconnect\)/);
    // The server refuses the wrong key (475): give it time to have answered, then the key is fixed.
    await hive.waitForLog((l) => l.msg === 'IRC error' && String(l.channel ?? '').toLowerCase() === '#keyed', 15_000).catch(() => undefined);
    expect(moves('hivebot', since)).toEqual([]);
    await edit((c) => { c.networks.net!.channels = ['#one', { name: '#keyed', key: 'sesame' }]; });
    r = await reload();
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/network {2}net: channel keys \(no reconnect\)/);
    await botJoined(watcher, 'hivebot', '#keyed', { since });
    // In the channel it was in all along, nothing happened.
    expect(moves('hivebot', since)).toEqual(['JOIN #keyed']);
  });

  it('checks a ${ENV} secret with the supervisor\'s environment, not the shell\'s', { timeout: 60_000 }, async () => {
    const shell = Object.fromEntries(Object.entries({ ...process.env, ...hive.env }).filter(([k]) => k !== SECRET_VAR)) as Record<string, string>;
    const run = (...args: string[]) => execa(HIVE_BIN, args, { env: shell, extendEnv: false, reject: false, timeout: 60_000 });
    // The shell has no such variable; the supervisor has: loaded.
    await edit((c) => { c.plugins.push({ name: 'echo', use: 'echo', config: { token: `\${${SECRET_VAR}}` } }); });
    let r = await run('reload', '--config', hive.configFile);
    expect(r.exitCode, String(r.stderr) + String(r.stdout)).toBe(0);
    expect(String(r.stdout)).toMatch(/load {5}echo/);
    // Neither has it: the supervisor refuses, naming it (exit 2, nothing changed).
    await edit((c) => { c.plugins.push({ name: 'help', use: 'help', config: { token: '${HIVE_RELOAD_TEST_NOWHERE}' } }); });
    r = await run('reload', '--config', hive.configFile);
    expect(r.exitCode).toBe(2);
    expect(String(r.stderr)).toMatch(/environment variable HIVE_RELOAD_TEST_NOWHERE is not set/);
    // Another problem next to an unset variable: refused here, with its line, before the supervisor is asked.
    await edit((c) => { c.plugins.push({ name: 'bad', use: 'ping', restart: { max: 'x' } }); });
    r = await run('reload', '--config', hive.configFile);
    expect(r.exitCode).toBe(2);
    expect(String(r.stderr)).toMatch(/plugins\[\d\]\.restart\.max/);
    expect(String(r.stderr)).not.toMatch(/HIVE_RELOAD_TEST_NOWHERE/);
    const tree = await hive.cli('tree', '--json', '--instance', hive.instance);
    expect((JSON.parse(tree.stdout) as { nodes: { name: string }[] }).nodes.map((n) => n.name).sort()).toEqual(['echo', 'mouth', 'ping']);
  });
});
