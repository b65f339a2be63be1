// The responder in bash (plugins/examples/shell/responder.sh: gdbus and coreutils only) in a real
// hive on the terminal network, under a TypeScript filter: it answers through the mouth, shows in
// `hive tree` and `help`, is restarted after kill -9, follows Reparent when its parent stops, is
// moved back when the parent returns, and is restarted (then back under it) when the parent is
// killed with SIGKILL (docs/protocol.md#a-node-without-a-connection). On ngIRCd: channel, nick and
// private commands, and bytes that are not ASCII, seen by a raw IRC client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startHive, startTap, alive, type TestHive } from '../helpers/hive.js';
import { ROOT } from '../helpers/paths.js';
import { waitFor } from '../helpers/wait.js';
import { startNgircd, type Ircd } from '../helpers/ircd.js';
import { connectClient, type IrcTestClient } from '../helpers/irc-client.js';
import { botJoined, exec, expectPrivmsg, ircNetwork, privmsgsFrom, waitForNodeLog } from '../mouth/util.js';
import { callWithDeadline, connectBus, type MessageBus } from '../../protocol/sdk/bus.js';
import { NODE_INTERFACE, NODE_PATH } from '../../protocol/names.js';

const RESPONDER = join(ROOT, 'plugins/examples/shell/responder.sh');
const TERMINAL = { console: { type: 'terminal', quiet_ms: 200 } };

// A missing tool is a failure that says how to install it, never a skip.
beforeAll(async () => {
  const r = await execa('gdbus', ['help'], { reject: false });
  if (r.exitCode !== 0) throw new Error('gdbus is not installed: run `sudo apt-get install -y libglib2.0-bin` (or scripts/install-system-deps)');
});

let hive: TestHive;
let bus: MessageBus;
let busAddress: string;
const busName = (node: string) => `org.hive.${hive.instance}.${node}`;

/** Says `text` and waits for `expected` among the lines printed after it; returns those lines. */
async function ask(text: string, expected: string, timeout = 15_000): Promise<string[]> {
  const since = hive.stdout.length;
  hive.say(text);
  await hive.expectOutput(expected, { since, timeout });
  return hive.stdout.slice(since);
}

async function childrenOf(node: string): Promise<string[]> {
  const r = await callWithDeadline(bus, { destination: busName(node), path: NODE_PATH, interface: 'org.freedesktop.DBus.Properties', member: 'Get', signature: 'ss', body: [NODE_INTERFACE, 'Children'] }, 5000);
  return (r.body[0].value as [string, string][]).map(([n]) => n);
}

/** Waits until the tree shows `node` running under `parent`, and `parent` lists it as a child. */
async function under(node: string, parent: string, timeout = 20_000) {
  return waitFor(async () => {
    const n = await hive.node(node);
    return n.state === 'running' && n.parent === parent && (await childrenOf(parent)).includes(node) ? n : undefined;
  }, { timeout, what: `${node} running under ${parent}` });
}

/** The `gdbus monitor` processes on this hive's bus (each shell node has exactly one). */
async function monitors(): Promise<string[]> {
  const { stdout } = await execa('pgrep', ['-af', 'gdbus monitor'], { reject: false });
  // A filtered node (issue 16) watches through its own proxy's socket, not the bus's.
  return stdout.split('\n').filter((l) => l.includes(busAddress) || /\/[^ ]*\.nodes\/shping\/bus(-\d+)?\.sock/.test(l) && l.includes(`/${hive.instance}.nodes/`));
}

describe('a responder in bash with gdbus', () => {
  beforeAll(async () => {
    hive = await startHive({
      networks: TERMINAL,
      plugins: [
        { name: 'help', use: 'help' },
        { name: 'relay', exec: exec('passthrough') },
        { name: 'shping', parent: 'relay', exec: ['bash', RESPONDER] },
      ],
    });
    busAddress = (JSON.parse(await readFile(join(hive.env.HIVE_RUNTIME_DIR!, `${hive.instance}.json`), 'utf8')) as { bus_address: string }).bus_address;
    bus = await connectBus(busAddress);
  }, 60_000);
  afterAll(async () => {
    bus?.disconnect();
    await hive?.stop();
  });

  it('answers !shping through the mouth, by prefix and by nick, and shows in hive tree and help', async () => {
    expect(await ask('!shping', 'shpong')).toEqual(['shpong']);
    await ask('!shping hello from the terminal', 'shpong hello from the terminal');
    await ask('hive: shping addressed by nick', 'shpong addressed by nick');
    // Not commands for it: another command, and its name in a channel without prefix or nick.
    const since = hive.stdout.length;
    hive.say('!shpingx not this one');
    hive.say('shping without a prefix');
    await ask('!shping last', 'shpong last');
    expect(hive.stdout.slice(since)).toEqual(['shpong last']);
    // help reads the Commands the responder gave when it joined, at its own bus name.
    await ask('!help', 'shping: !shping');
    await ask('!help shping', 'shping [TEXT] — answers shpong (a node in bash)');
    const node = await under('shping', 'relay');
    expect(node).toMatchObject({ kind: 'responder', configured_parent: 'relay', restarts: 0 });
    expect(node.counters.out).toBeGreaterThanOrEqual(3);
    expect(node.counters.errors).toBe(0);
    expect(alive(node.pid!)).toBe(true);
    expect(await monitors()).toHaveLength(1);
    // hive tap shows its SendAs going up, named by the node (never the key it sends with).
    const tap = await startTap(hive, '--json', '--count', '4');
    await ask('!shping tapped', 'shpong tapped');
    const tapped = await tap.proc;
    const up = String(tapped.stdout).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { direction: string; from: string; to: string; lines: string[] }).filter((e) => e.direction === 'up');
    expect(up.some((e) => e.from === 'shping' && e.to === 'relay' && e.lines.some((l) => l.endsWith(':shpong tapped')))).toBe(true);
  });

  it('is restarted by the supervisor after kill -9, answers again, and leaves nothing behind', async () => {
    const before = await under('shping', 'relay');
    process.kill(before.pid!, 'SIGKILL');
    const after = await waitFor(async () => {
      const n = await hive.node('shping');
      return n.state === 'running' && n.pid !== before.pid && (await childrenOf('relay')).includes('shping') ? n : undefined;
    }, { timeout: 20_000, what: 'shping running again in a new process' });
    expect(after.restarts).toBe(before.restarts + 1);
    const lines = await ask('!shping again', 'shpong again');
    expect(lines).toEqual(['shpong again']);
    // The old run's ticker stops its gdbus monitor within seconds: one monitor, the new run's.
    await waitFor(async () => (await monitors()).length === 1, { timeout: 10_000, what: 'one gdbus monitor left' });
  });

  it('follows Reparent to the mouth when its parent stops, and is moved back when the parent returns', async () => {
    const before = await under('shping', 'relay');
    const relay = await hive.node('relay');
    // SIGTERM: the filter stops as asked (Reparent to its own parent), and the supervisor, which did
    // not ask, starts it again.
    process.kill(relay.pid!, 'SIGTERM');
    await waitForNodeLog(hive, 'shping', 'moving to a new parent', (l) => l.to === busName('mouth'), 15_000);
    await waitForNodeLog(hive, 'shping', 'joined parent', (l) => l.parent === busName('mouth'), 15_000);
    await ask('!shping under the mouth', 'shpong under the mouth');
    // Back under the filter: the supervisor's SetParent on shping's name, answered by the mouth,
    // which tells the responder with MoveChild.
    await waitForNodeLog(hive, 'shping', 'moving to a new parent', (l) => l.from === busName('mouth') && l.to === busName('relay'), 20_000);
    const healed = await under('shping', 'relay');
    expect(await childrenOf('mouth')).not.toContain('shping');
    // The same process all along: moved, never restarted.
    expect(healed.pid).toBe(before.pid);
    expect(healed.restarts).toBe(before.restarts);
    expect(await ask('!shping healed', 'shpong healed')).toEqual(['shpong healed']);
  });

  it('comes back under its parent when the parent is killed with SIGKILL (its bus name went with it)', async () => {
    const before = await under('shping', 'relay');
    const relay = await hive.node('relay');
    // Its bus name lived on the filter's connection and goes with it. The responder sees its parent
    // go and joins the next one (the supervisor kills it only if its name stays lost, and restarts
    // it then); either way it ends up under the restarted filter, answering.
    process.kill(relay.pid!, 'SIGKILL');
    await waitFor(async () => { const r = await hive.node('relay'); return r.pid !== relay.pid && r.state === 'running'; }, { timeout: 20_000, what: 'relay restarted' });
    const healed = await under('shping', 'relay', 30_000);
    expect(healed.state).toBe('running');
    expect(alive(healed.pid!)).toBe(true);
    expect(await ask('!shping after the crash', 'shpong after the crash')).toEqual(['shpong after the crash']);
    await waitFor(async () => (await monitors()).length === 1, { timeout: 10_000, what: 'one gdbus monitor left' });
    if (healed.pid === before.pid) expect(healed.restarts).toBe(before.restarts);
  });

  it('leaves its parent on `hive stop` (exit 0), and answers again after `hive start`', async () => {
    const r = await hive.cli('stop', 'shping', '--config', hive.configFile);
    expect(r.exitCode, r.stderr).toBe(0);
    expect((await hive.node('shping')).state).toBe('stopped');
    await waitFor(async () => !(await childrenOf('relay')).includes('shping'), { what: 'relay to forget shping' });
    await waitFor(async () => (await monitors()).length === 0, { timeout: 10_000, what: 'no gdbus monitor left' });
    expect(hive.logs.some((l) => l.node === 'shping' && l.msg === 'node stopped')).toBe(true);
    const s = await hive.cli('start', 'shping', '--config', hive.configFile);
    expect(s.exitCode, s.stderr).toBe(0);
    await under('shping', 'relay');
    await ask('!shping once more', 'shpong once more');
    // Nothing went wrong on the way: no error from the responder.
    expect(hive.logs.filter((l) => l.node === 'shping' && Number(l.level) >= 50)).toEqual([]);
  });
});

describe('the bash responder on ngIRCd', () => {
  let ircd: Ircd;
  let irc: TestHive;
  let alice: IrcTestClient;
  beforeAll(async () => {
    ircd = await startNgircd();
    alice = await connectClient({ host: ircd.host, port: ircd.port, nick: 'alice' });
    await alice.join('#one');
    irc = await startHive({
      networks: { net: ircNetwork(ircd, { nick: 'hivebot', channels: ['#one'] }) },
      plugins: [{ name: 'shping', exec: ['bash', RESPONDER] }],
    });
    await botJoined(alice, 'hivebot', '#one');
  }, 60_000);
  afterAll(async () => {
    alice?.close();
    await irc?.stop();
    await ircd?.stop();
  });

  it('answers in the channel, to its nick, and in private to the speaker, keeping the bytes of the text', async () => {
    let since = alice.mark();
    alice.say('#one', '!shping on IRC');
    await expectPrivmsg(alice, 'hivebot', '#one', 'shpong on IRC', { since });
    alice.say('#one', 'HiveBot, shping by nick');
    await expectPrivmsg(alice, 'hivebot', '#one', 'shpong by nick', { since });
    alice.say('#one', "!shping grüße, 'quoted' \\ \"double\" <b>");
    await expectPrivmsg(alice, 'hivebot', '#one', "shpong grüße, 'quoted' \\ \"double\" <b>", { since });
    since = alice.mark();
    alice.say('hivebot', 'shping just between us');
    await expectPrivmsg(alice, 'hivebot', 'alice', 'shpong just between us', { since });
    // Each once, and nothing for talk that is not a command.
    alice.say('#one', 'shping is a nice word');
    alice.say('#one', '!shping last');
    await expectPrivmsg(alice, 'hivebot', '#one', 'shpong last', { since });
    expect(privmsgsFrom(alice, 'hivebot', '#one').map((l) => l.params[1])).toEqual([
      'shpong on IRC', 'shpong by nick', "shpong grüße, 'quoted' \\ \"double\" <b>", 'shpong last',
    ]);
    expect(privmsgsFrom(alice, 'hivebot', 'alice').map((l) => l.params[1])).toEqual(['shpong just between us']);
    expect(await irc.node('shping')).toMatchObject({ state: 'running', parent: 'mouth', kind: 'responder' });
  });
});

describe('the bash responder alone', () => {
  it('exits with code 2 and names the variable when its environment is incomplete', async () => {
    const base = { PATH: process.env.PATH ?? '', HIVE_BUS_ADDRESS: 'unix:path=/nonexistent', HIVE_NODE: 'shping', HIVE_PARENT: 'org.hive.x.mouth', HIVE_TOKEN: 'x' };
    const run = (env: Record<string, string>) => execa('bash', [RESPONDER], { env, extendEnv: false, reject: false, timeout: 10_000 });
    const noToken = await run({ ...base, HIVE_TOKEN: '' });
    expect(noToken.exitCode).toBe(2);
    expect(String(noToken.stderr)).toContain('HIVE_TOKEN');
    const badName = await run({ ...base, HIVE_NODE: 'not a name' });
    expect(badName.exitCode).toBe(2);
    expect(String(badName.stderr)).toContain('HIVE_NODE');
    // A bus it cannot reach: gdbus monitor ends at once, and so does the node, with 1 (the supervisor retries).
    const noBus = await run(base);
    expect(noBus.exitCode).toBe(1);
    expect(String(noBus.stderr)).toContain('lost the connection to the bus');
  });
});
