// `hive reload` and SIGHUP (issue 20) on a running hive on ngIRCd, its plugins: a plugin added,
// removed, moved, its config changed (that node alone restarts), its restart policy changed (no
// restart); `hive tree` matches the new config each time, and a raw client in the bot's channels
// sees no PART, QUIT or JOIN of the bot. A config with a problem, or a key that cannot change
// live, changes nothing and names the key; --dry-run plans only.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { parse, stringify } from 'yaml';
import { startNgircd, type Ircd } from '../helpers/ircd.js';
import { connectClient, type IrcTestClient } from '../helpers/irc-client.js';
import { startHive, type TestHive, type TreeNodeJson } from '../helpers/hive.js';
import { waitFor } from '../helpers/wait.js';
import { botJoined, expectPrivmsg, ircNetwork } from '../mouth/util.js';
import { join } from 'node:path';
import { callWithDeadline, connectBus } from '../../protocol/sdk/bus.js';
import { SUPERVISOR_INTERFACE } from '../../protocol/names.js';

let ircd: Ircd;
let hive: TestHive;
let watcher: IrcTestClient;

beforeAll(async () => {
  ircd = await startNgircd();
  watcher = await connectClient({ host: ircd.host, port: ircd.port, nick: 'watcher' });
  await watcher.join('#one');
  await watcher.join('#two');
  hive = await startHive({
    networks: { net: ircNetwork(ircd, { channels: ['#one', '#two'] }) },
    plugins: [{ name: 'ping', use: 'ping' }, { name: 'echo', use: 'echo' }, { name: 'help', use: 'help' }],
  });
  await botJoined(watcher, 'hivebot', '#one');
  await botJoined(watcher, 'hivebot', '#two');
}, 60_000);
afterAll(async () => {
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

/** The bot's own JOIN, PART, QUIT and NICK lines the watcher saw since `since`. */
const botMoves = (since: number) => watcher.lines.slice(since).filter((l) => l.nick === 'hivebot' && ['JOIN', 'PART', 'QUIT', 'NICK'].includes(l.command));

/** `hive tree`, the hive found by its instance (the file may name another while a test edits it). */
async function tree(): Promise<TreeNodeJson[]> {
  const r = await hive.cli('tree', '--json', '--instance', hive.instance);
  if (r.exitCode !== 0) throw new Error(`hive tree failed (${r.exitCode}): ${r.stderr}`);
  return (JSON.parse(r.stdout) as { nodes: TreeNodeJson[] }).nodes;
}

/** `hive tree` has exactly these nodes, each running under its configured parent. */
async function treeIs(want: Record<string, string>): Promise<TreeNodeJson[]> {
  return waitFor(async () => {
    const nodes = await tree();
    const got = Object.fromEntries(nodes.filter((n) => n.name !== 'mouth').map((n) => [n.name, `${n.state} under ${n.parent}`]));
    const expected = Object.fromEntries(Object.entries(want).map(([n, p]) => [n, `running under ${p}`]));
    return JSON.stringify(got, Object.keys(got).sort()) === JSON.stringify(expected, Object.keys(expected).sort())
      && nodes.every((n) => n.name === 'mouth' || n.configured_parent === want[n.name]) ? nodes : undefined;
  }, { timeout: 20_000, interval: 100, what: `the tree ${JSON.stringify(want)}` });
}

describe('hive reload: plugins', () => {
  it('loads an added plugin and unloads a removed one, touching nothing else', { timeout: 60_000 }, async () => {
    const since = watcher.mark();
    const before = await tree();
    await edit((c) => { c.plugins = c.plugins.filter((p) => p.name !== 'help'); c.plugins.push({ name: 'stats', use: 'stats' }); });
    const r = await reload('--json');
    expect(r.exitCode, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as { applied: boolean; errors: string[]; plan: { steps: { do: string; node?: string }[] } };
    expect(result.applied).toBe(true);
    expect(result.errors).toEqual([]);
    expect(result.plan.steps.map((s) => `${s.do} ${s.node}`).sort()).toEqual(['load stats', 'unload help']);
    const after = await treeIs({ ping: 'mouth', echo: 'mouth', stats: 'mouth' });
    // ping and echo were not restarted: same pids.
    for (const n of ['ping', 'echo']) expect(after.find((x) => x.name === n)!.pid).toBe(before.find((x) => x.name === n)!.pid);
    const s = watcher.mark();
    watcher.say('#one', '!ping');
    await expectPrivmsg(watcher, 'hivebot', '#one', 'pong', { since: s });
    expect(botMoves(since)).toEqual([]);
  });

  it('restarts only the plugin whose config changed, moves one whose parent changed, and takes a new restart policy without a restart', { timeout: 60_000 }, async () => {
    const since = watcher.mark();
    const before = await tree();
    const pid = (n: string, nodes: TreeNodeJson[]) => nodes.find((x) => x.name === n)!.pid;
    await edit((c) => {
      for (const p of c.plugins) {
        if (p.name === 'echo') p.config = { max_lines: 3 };
        if (p.name === 'stats') p.parent = 'ping';
        if (p.name === 'ping') p.restart = { max: 9, within: '2m' };
      }
    });
    const dry = await reload('--dry-run');
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/^dry run: nothing changed/);
    expect(dry.stdout).toMatch(/restart {2}echo \(config changed\)/);
    expect(dry.stdout).toMatch(/move {5}stats: mouth -> ping \(no restart\)/);
    expect(dry.stdout).toMatch(/policy {3}ping: restart policy changed \(no restart\)/);
    expect((await tree()).find((n) => n.name === 'stats')!.configured_parent).toBe('mouth');

    const r = await reload();
    expect(r.exitCode, r.stderr).toBe(0);
    const after = await treeIs({ ping: 'mouth', echo: 'mouth', stats: 'ping' });
    expect(pid('echo', after)).not.toBe(pid('echo', before));
    expect(pid('ping', after)).toBe(pid('ping', before));
    expect(pid('stats', after)).toBe(pid('stats', before));
    await hive.waitForLog((l) => l.msg === 'node re-parented' && l.child === 'stats' && l.to === 'ping');
    const s = watcher.mark();
    watcher.say('#two', '!echo hello');
    await expectPrivmsg(watcher, 'hivebot', '#two', /hello/, { since: s });
    expect(botMoves(since)).toEqual([]);
  });

  it('changes nothing for a config with a problem or a key that cannot change live, and names the key', { timeout: 60_000 }, async () => {
    const since = watcher.mark();
    const good = await readFile(hive.configFile, 'utf8');
    const before = await tree();
    await edit((c) => { c.plugins.push({ name: 'bad', use: 'ping', restart: { max: 'x' } }); });
    let r = await reload();
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/`plugins\[3\]\.restart\.max`/);
    await writeFile(hive.configFile, good);
    await edit((c) => { c.plugins.push({ name: 'nope', use: 'no_such_plugin' }); });
    r = await reload();
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/`plugins\[3\]\.use`: 'no_such_plugin' is not a built-in plugin/);
    await writeFile(hive.configFile, good);
    await edit((c) => { c.bus = 'unix:path=/nonexistent'; c.command_prefix = '?'; c.plugins = c.plugins.filter((p) => p.name !== 'echo'); });
    r = await reload();
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/`bus`: cannot change while the hive runs/);
    expect(r.stderr).toMatch(/`command_prefix`: cannot change while the hive runs/);
    // The same, asked of the supervisor for its own file (no --config: found by --instance).
    r = await hive.cli('reload', '--instance', hive.instance);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/`bus`: cannot change/);
    await writeFile(hive.configFile, good);
    const after = await tree();
    expect(after.map((n) => `${n.name}:${n.pid}:${n.state}`).sort()).toEqual(before.map((n) => `${n.name}:${n.pid}:${n.state}`).sort());
    expect(botMoves(since)).toEqual([]);
    // Unchanged file: nothing to do.
    r = await reload();
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/nothing to change/);
  });

  it('refuses Reload to a connection that is not the operator\'s, counted', { timeout: 30_000 }, async () => {
    const info = JSON.parse(await readFile(join(hive.dir, 'run', `${hive.instance}.json`), 'utf8')) as { bus_address: string; supervisor: string };
    const stranger = await connectBus(info.bus_address);
    try {
      const call = (member: string, signature: string, body: unknown[]) => callWithDeadline(stranger, { destination: info.supervisor, path: '/org/hive/Supervisor', interface: SUPERVISOR_INTERFACE, member, signature, body }, 5000);
      const code = await call('Reload', 'sb', ['', true]).then(() => 'ok', (e: { code?: string }) => e.code);
      expect(code).toBe('NotAuthorized');
      const props = await callWithDeadline(stranger, { destination: info.supervisor, path: '/org/hive/Supervisor', interface: 'org.freedesktop.DBus.Properties', member: 'Get', signature: 'ss', body: [SUPERVISOR_INTERFACE, 'Counters'] }, 5000);
      const counters = (props.body[0] as { value: Record<string, bigint> }).value;
      expect(Number(counters.not_authorized)).toBeGreaterThanOrEqual(1);
      // The test before: the refused keys twice (its two bad files were stopped by the CLI's own check first).
      expect(Number(counters.reload_refused)).toBe(2);
    } finally {
      stranger.disconnect();
    }
  });

  it('reloads on SIGHUP', { timeout: 60_000 }, async () => {
    const since = watcher.mark();
    await edit((c) => { c.plugins.push({ name: 'help', use: 'help', parent: 'echo' }); });
    const logged = hive.logs.length;
    hive.proc.kill('SIGHUP');
    await treeIs({ ping: 'mouth', echo: 'mouth', stats: 'ping', help: 'echo' });
    await waitFor(() => hive.logs.slice(logged).some((l) => l.msg === 'reloaded'), { what: 'the reloaded log line' });
    // A bad file on SIGHUP: logged, nothing changed, the hive goes on.
    await edit((c) => { c.instance = 'other'; });
    const mark = hive.logs.length;
    hive.proc.kill('SIGHUP');
    const refused = await waitFor(() => hive.logs.slice(mark).find((l) => l.msg === 'SIGHUP: reload refused; nothing changed'), { what: 'the refusal in the log' });
    expect(String(refused.reason)).toMatch(/`instance`: cannot change/);
    await treeIs({ ping: 'mouth', echo: 'mouth', stats: 'ping', help: 'echo' });
    expect(botMoves(since)).toEqual([]);
  });
});
