// Chaos (issue 6): a tree of six plugin processes on a real ngIRCd under steady load; a seeded
// random schedule kill -9s plugins, filters and the mouth. Every command sent while the bot was on
// IRC is answered exactly once (or its loss is logged and counted); the tree heals to its shape.
// Repeat a run with CHAOS_SEED=<seed>.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { startNgircd, type Ircd } from '../helpers/ircd.js';
import { connectClient, type IrcTestClient } from '../helpers/irc-client.js';
import { alive, startHive, type TestHive } from '../helpers/hive.js';
import { fixture } from '../helpers/paths.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { prng } from '../helpers/prng.js';

const SEED = Number(process.env.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
const LOAD_MS = 14_000;
const CHANNEL = '#chaos';

let ircd: Ircd;
let client: IrcTestClient;
let hive: TestHive;

beforeAll(async () => {
  ircd = await startNgircd();
  client = await connectClient({ host: ircd.host, port: ircd.port, nick: 'chaoser' });
  await client.join(CHANNEL);
});
afterAll(async () => {
  await hive?.stop();
  client?.close();
  await ircd?.stop();
});

const PLUGINS = [
  { name: 'f1', parent: 'mouth', filter: true },
  { name: 'f2', parent: 'f1', filter: true },
  { name: 'a', parent: 'f2' },
  { name: 'b', parent: 'f1' },
  { name: 'c', parent: 'mouth' },
  { name: 'd', parent: 'f2' },
];

describe('chaos', () => {
  it(`answers every command exactly once through random kills (seed ${SEED})`, async () => {
    process.stderr.write(`chaos: seed ${SEED} (repeat with CHAOS_SEED=${SEED})\n`);
    const random = prng(SEED);
    hive = await startHive({
      log_level: 'info',
      networks: { irc: { type: 'irc', host: ircd.host, port: ircd.port, nick: 'chaosbot', channels: [CHANNEL], flood: { burst: 1_000_000, rate: 1_000_000 }, reconnect: { min_delay: '50ms', max_delay: '500ms' } } },
      plugins: PLUGINS.map((p) => ({
        name: p.name,
        parent: p.parent,
        exec: ['node', fixture(p.filter ? 'passthrough' : 'responder')],
        config: p.filter ? {} : { command: p.name },
        restart: { max: 100, within: '1m' },
      })),
    });
    await client.waitFor((l) => l.nick === 'chaosbot' && l.command === 'JOIN', { since: 0, timeout: 20_000 });

    // Steady load: one command every 40 ms, round robin over the four responders.
    const sent = new Map<string, number>();
    let n = 0;
    let loading = true;
    const load = (async () => {
      while (loading) {
        const cmd = PLUGINS.filter((p) => !p.filter)[n % 4]!.name;
        const key = `${cmd}:${n}`;
        sent.set(key, Date.now());
        client.say(CHANNEL, `!${cmd} ${n}`);
        n++;
        await sleep(40);
      }
    })();

    // The kill schedule; the mouth is down from its kill until the bot is back in the channel.
    const victims = [...PLUGINS.map((p) => p.name), 'mouth'];
    const mouthDown: [number, number][] = [];
    const kills: string[] = [];
    const end = Date.now() + LOAD_MS;
    // Kills go on past LOAD_MS until there were enough of them: on a loaded machine a mouth takes
    // seconds to come back, and a fixed window held only four (a hard cap still ends the run).
    const cap = Date.now() + 3 * LOAD_MS;
    await sleep(1000);
    while ((Date.now() < end - 1500 || kills.length < 6) && Date.now() < cap) {
      const victim = victims[Math.floor(random() * victims.length)]!;
      const node = await hive.node(victim);
      if (node.state === 'running' && node.pid) {
        const mark = client.mark();
        const t = Date.now();
        process.kill(node.pid, 'SIGKILL');
        kills.push(victim);
        if (victim === 'mouth') {
          const back = await client.waitFor((l) => l.nick === 'chaosbot' && l.command === 'JOIN', { since: mark, timeout: 20_000 });
          mouthDown.push([t - 100, back.at + 200]);
        }
      }
      await sleep(600 + random() * 900);
    }
    await sleep(Math.max(0, end - Date.now()));
    loading = false;
    await load;

    // Healed: everything runs, where the config puts it.
    await waitFor(async () => {
      const t = await hive.tree();
      return t.every((x) => x.state === 'running' && (x.name === 'mouth' || x.parent === x.configured_parent));
    }, { timeout: 20_000, what: 'the tree healed' });
    await sleep(3000);

    const answers = new Map<string, number>();
    for (const l of client.lines) {
      if (l.nick === 'chaosbot' && l.command === 'PRIVMSG' && l.params[0] === CHANNEL) {
        const key = l.params[1]!;
        answers.set(key, (answers.get(key) ?? 0) + 1);
      }
    }
    const twice = [...answers].filter(([, c]) => c > 1).map(([k]) => k);
    const whileMouthDown = (t: number) => mouthDown.some(([a, b]) => t >= a && t <= b);
    const unanswered = [...sent].filter(([k, t]) => !answers.has(k) && !whileMouthDown(t)).map(([k]) => k);
    const lossLogged = hive.logs.filter((l) => l.level === 50 && typeof l.msg === 'string' && /lost|not delivered|failed/.test(l.msg)).length;
    // Second copies the mouth recognised and did not send (mouth/answered-set.ts): what the test is about.
    const held = (re: RegExp) => hive.logs.filter((l) => l.node === 'mouth' && re.test(String(l.msg))).length;
    const summary = `seed ${SEED}: kills ${kills.join(',')}; sent ${sent.size}; answered ${answers.size}; twice ${twice.length}; unanswered outside mouth outages ${unanswered.length} (${unanswered.slice(0, 10).join(' ')}); losses logged ${lossLogged}; second copies not sent: ${held(/^second reply/)} replies to replays, ${held(/sent again after its parent died/)} resends, ${held(/sent again after the mouth restarted/)} resends to a new mouth`;
    process.stderr.write(`chaos: ${summary}\n`);
    // CHAOS_DUMP=<dir>: a failing run leaves the hive's logs and the channel's lines there, to read.
    if (process.env.CHAOS_DUMP && (twice.length || unanswered.length > lossLogged)) {
      const dump = join(process.env.CHAOS_DUMP, `chaos-${SEED}.jsonl`);
      writeFileSync(dump, [...hive.logs, ...client.lines].map((l) => JSON.stringify(l)).join('\n'));
      process.stderr.write(`chaos: logs in ${dump}\n`);
    }

    expect(kills.length, summary).toBeGreaterThanOrEqual(5);
    expect(twice, summary).toEqual([]);
    expect(unanswered.length, summary).toBeLessThanOrEqual(lossLogged);
    expect(sent.size, summary).toBeGreaterThan(200);

    // hive tree agrees with the processes, and nothing is left after shutdown.
    const tree = await hive.tree();
    for (const x of tree) expect(alive(x.pid!), x.name).toBe(true);
    const pids = tree.map((x) => x.pid!);
    expect((await hive.cli('down', '--config', hive.configFile)).exitCode).toBe(0);
    expect(await hive.exited).toBe(0);
    for (const pid of pids) expect(alive(pid), String(pid)).toBe(false);
    const leftovers = await execa('pgrep', ['-f', `${hive.instance}.bus/bus.conf`], { reject: false });
    expect(String(leftovers.stdout).trim(), 'dbus-daemon left behind').toBe('');
    // Nor the nodes' socket folders (filtered nodes' proxies: <runtime>/<instance>.nodes/<node>/).
    expect(existsSync(join(hive.env.HIVE_RUNTIME_DIR!, `${hive.instance}.nodes`)), 'socket folders left behind').toBe(false);
  }, 90_000);
});
