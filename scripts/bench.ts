/**
 * `npm run bench [-- --quick] [-- --json]`: what process isolation costs, measured side by side
 * with a bare in-process irc-framework bot on the same ngIRCd in the same run (docs/performance.md).
 * Starts its own ngIRCd (penalties off) and, through `hive up`, its own private buses.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import irc from 'irc-framework';
import { startNgircd, type Ircd } from '../test/helpers/ircd.js';
import { startPrivateBus } from '../tree-supervisor/private-bus.js';
import { RawIrc } from './bench/raw-irc.js';
import { DIST, REPO, startBenchHive, treePids, type BenchHive } from './bench/hive-process.js';
import { CHANNEL, NO_FLOOD, ircNetwork, latencyRuns as measureLatency, pct, round, sleep, spread, throughputRuns, waitJoined, type LatencyRuns } from './bench/irc-measure.js';
import { pssMb } from './bench/pss.js';
import { hive10 } from './bench/hive10.js';
import { printTable } from './bench/table.js';

const args = new Set(process.argv.slice(2));
const QUICK = args.has('--quick');
const JSON_OUT = args.has('--json');
// Node options for hive10's plugins only (an experiment; see scripts/bench/hive10.ts).
const PLUGIN_NODE_ARGS = process.argv.find((a) => a.startsWith('--plugin-node-args='))?.slice('--plugin-node-args='.length).split(' ').filter(Boolean);
const RUNS = 3;
const N = {
  pings: QUICK ? 100 : 300,
  pipelined: QUICK ? 2000 : 5000,
  fanout: QUICK ? 2000 : 5000,
  kills: QUICK ? 10 : 20,
  floodLines: QUICK ? 10 : 14,
  startups: QUICK ? 2 : 3,
};
const passthrough = [process.execPath, join(DIST, 'test/fixtures/passthrough.js')];
const now = () => performance.timeOrigin + performance.now();
const say = (msg: string) => { if (!JSON_OUT) process.stderr.write(`bench: ${msg}\n`); };
const latencyRuns = (client: RawIrc, nick: string) => measureLatency(client, nick, RUNS, N.pings);

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}
/** Memory only this process holds (smaps_rollup Private_*): what one more such process costs; the rest is node's code, shared. */
async function privateMb(pid: number): Promise<number> {
  const s = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? NaN);
  return (kb('Private_Clean') + kb('Private_Dirty')) / 1024;
}
/** The xdg-dbus-proxy processes of one bench hive (their sockets live under its runtime dir). */
async function proxyPids(h: BenchHive): Promise<number[]> {
  const r = await execa('pgrep', ['-f', `xdg-dbus-proxy .*${h.instance}\\.nodes/`], { reject: false });
  return String(r.stdout).trim().split('\n').filter(Boolean).map(Number);
}
async function busPid(h: BenchHive): Promise<number> {
  const r = await execa('pgrep', ['-f', `${h.instance}.bus/bus.conf`], { reject: false });
  return Number(String(r.stdout).trim().split('\n')[0]);
}

async function bareBot(ircd: Ircd, client: RawIrc) {
  const bot = new irc.Client({ nick: 'barebot', auto_reconnect: false });
  bot.on('registered', () => bot.join(CHANNEL));
  bot.on('privmsg', (e: { message: string; target: string }) => { if (e.message === '!ping') bot.say(e.target, 'pong'); });
  bot.connect({ host: ircd.host, port: ircd.port, nick: 'barebot', auto_reconnect: false });
  await waitJoined(client, 'barebot');
  const lat = await latencyRuns(client, 'barebot');
  const tp = await throughputRuns(client, 'barebot', RUNS, N.pipelined);
  bot.quit('done');
  return { latency: lat, throughput: tp };
}

async function hiveLatency(ircd: Ircd, client: RawIrc, nick: string, plugins: unknown[], withThroughput: boolean, probe?: (h: BenchHive) => Promise<unknown>) {
  const h = await startBenchHive({ networks: ircNetwork(ircd, nick, NO_FLOOD), plugins, log_level: 'warn' });
  try {
    await waitJoined(client, nick);
    const lat = await latencyRuns(client, nick);
    const probed = probe ? await probe(h) : undefined;
    const tp = withThroughput ? await throughputRuns(client, nick, RUNS, N.pipelined) : undefined;
    return { lat, tp, probed };
  } finally {
    await h.stop();
  }
}

/** One emitter, n subscribers, COUNT messages: per-subscriber delivery rate, SDK or raw dbus-next. */
async function fanoutRun(mode: 'sdk' | 'raw', subs: number, count: number) {
  const bus = await startPrivateBus();
  const env = { HIVE_BUS_ADDRESS: bus.address, HIVE_INSTANCE: 'bench', HIVE_TOKEN: 'bench', HIVE_LOG_LEVEL: 'warn', HIVE_LOG_FORMAT: 'json' };
  const procs: ReturnType<typeof execa>[] = [];
  const lineWaiter = (p: ReturnType<typeof execa>, prefix: string) => new Promise<string>((resolve) => {
    let buf = '';
    p.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      for (const l of buf.split('\n')) if (l.startsWith(prefix)) resolve(l);
    });
  });
  try {
    const emitter = execa(process.execPath, [join(DIST, 'scripts/bench/fanout-emitter.js'), mode, String(count)], { env, stdin: 'pipe', stdout: 'pipe', stderr: 'inherit', buffer: false, reject: false });
    procs.push(emitter);
    await lineWaiter(emitter, 'ready');
    const done: Promise<string>[] = [];
    const ready: Promise<string>[] = [];
    for (let i = 0; i < subs; i++) {
      const p = execa(process.execPath, [join(DIST, 'scripts/bench/fanout-subscriber.js'), mode, String(count)], {
        env: { ...env, HIVE_NODE: `sub${i}`, HIVE_PARENT: 'org.hive.bench.mouth' }, stdin: 'ignore', stdout: 'pipe', stderr: 'inherit', buffer: false, reject: false,
      });
      procs.push(p);
      ready.push(lineWaiter(p, 'ready'));
      done.push(lineWaiter(p, 'done'));
    }
    await Promise.all(ready);
    if (mode === 'sdk') await lineWaiter(emitter, `children ${subs}`);
    const started = lineWaiter(emitter, 'start');
    emitter.stdin!.write('go\n');
    const t0 = Number((await started).split(' ')[1]);
    const timeout = sleep(60_000).then(() => 'timeout');
    const ends = await Promise.all(done.map((d) => Promise.race([d, timeout])));
    const finished = ends.filter((e) => e !== 'timeout').map((e) => Number(e.split(' ')[1]));
    const lost = ends.length - finished.length;
    return { rate: Math.round((count / (Math.max(...finished) - t0)) * 1000), lost };
  } finally {
    for (const p of procs) p.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.catch(() => undefined)));
    await bus.stop();
  }
}

async function fanout() {
  const out: Record<string, { per_s: ReturnType<typeof spread>; lost: number }> = {};
  for (const subs of [1, 10]) {
    for (const mode of ['raw', 'sdk'] as const) {
      const runs = [];
      for (let r = 0; r < RUNS; r++) runs.push(await fanoutRun(mode, subs, N.fanout));
      out[`${mode === 'sdk' ? 'subs' : 'raw'}${subs}`] = { per_s: spread(runs.map((x) => x.rate), 0), lost: runs.reduce((a, x) => a + x.lost, 0) };
      say(`fan-out ${mode} ${subs}: ${out[`${mode === 'sdk' ? 'subs' : 'raw'}${subs}`]!.per_s.median}/s`);
    }
  }
  return {
    subs1: out.subs1!, subs10: out.subs10!, raw1: out.raw1!, raw10: out.raw10!,
    ratio1: round(out.subs1!.per_s.median / out.raw1!.per_s.median),
    ratio10: round(out.subs10!.per_s.median / out.raw10!.per_s.median),
  };
}

/** The default bucket: the most lines the server sees in any 10 s window. */
async function flood(ircd: Ircd, client: RawIrc) {
  const h = await startBenchHive({ networks: ircNetwork(ircd, 'floodbot'), plugins: [{ name: 'flood', exec: [process.execPath, join(DIST, 'scripts/bench/flood-plugin.js')] }], log_level: 'warn' });
  try {
    await waitJoined(client, 'floodbot');
    const start = client.lines.length;
    client.send(`PRIVMSG ${CHANNEL} :!flood ${N.floodLines}`);
    const isFlood = (l: string) => l.startsWith(':floodbot!') && l.includes(':flood ');
    const deadline = performance.now() + 40_000;
    while (client.lines.slice(start).filter((s) => isFlood(s.line)).length < N.floodLines && performance.now() < deadline) await sleep(50);
    const times = client.lines.slice(start).filter((s) => isFlood(s.line)).map((s) => s.at);
    let max10 = 0;
    for (let i = 0; i < times.length; i++) max10 = Math.max(max10, times.filter((t) => t >= times[i]! && t < times[i]! + 10_000).length);
    const burst = 5, rate = 0.5;
    return { lines: times.length, max_in_10s: max10, allowed_in_10s: burst + rate * 10, within_limit: max10 <= burst + rate * 10, configured: { burst, rate_per_s: rate } };
  } finally {
    await h.stop();
  }
}

/** kill -9 of a middle node with three children: re-parent and heal times; then the mouth. */
async function recovery(ircd: Ircd, client: RawIrc) {
  const h = await startBenchHive({
    networks: ircNetwork(ircd, 'recobot', NO_FLOOD),
    log_level: 'info',
    plugins: [
      { name: 'mid', exec: passthrough, restart: { max: 1000, within: '1m' } },
      { name: 'c1', use: 'ping', parent: 'mid' },
      { name: 'c2', use: 'echo', parent: 'mid' },
      { name: 'c3', use: 'help', parent: 'mid' },
    ],
  });
  const reparent: number[] = [], heal: number[] = [];
  try {
    await waitJoined(client, 'recobot');
    await h.waitLog((l) => l.msg === 'tree ready');
    const kids = ['c1', 'c2', 'c3'];
    for (let k = 0; k < N.kills; k++) {
      const pid = (await treePids(h)).get('mid')!;
      const since = h.logs.length;
      const t0 = now();
      process.kill(pid, 'SIGKILL');
      const moved = await Promise.all(kids.map((c) => h.waitLog((l) => l.msg === 'node re-parented' && l.child === c && l.to === 'mouth', 10_000, since)));
      reparent.push(Math.max(...moved.map((l) => l.time as number)) - t0);
      const back = await Promise.all(kids.map((c) => h.waitLog((l) => l.msg === 'node re-parented' && l.child === c && l.to === 'mid', 10_000, since)));
      heal.push(Math.max(...back.map((l) => l.time as number)) - t0);
    }
    const mouthRestart: number[] = [];
    for (let k = 0; k < RUNS; k++) {
      const pid = (await treePids(h)).get('mouth')!;
      await sleep(300);
      const start = client.lines.length;
      const t0 = performance.now();
      process.kill(pid, 'SIGKILL');
      let pong;
      while (!pong && performance.now() - t0 < 30_000) {
        client.send(`PRIVMSG ${CHANNEL} :!ping`);
        await sleep(10);
        pong = client.lines.slice(start).find((s) => s.line.startsWith(':recobot!') && s.line.endsWith(':pong'));
      }
      mouthRestart.push(pong ? pong.at - t0 : NaN);
      await sleep(500);
    }
    return { reparent: { ...pct(reparent), runs: reparent.length }, heal: { ...pct(heal), runs: heal.length }, mouth_restart: spread(mouthRestart, 0) };
  } finally {
    await h.stop();
  }
}

/** hive up → first pong on IRC with the default tree; memory of its parts. */
async function startupAndMemory(ircd: Ircd, client: RawIrc) {
  const firstPong: number[] = [], plugin: number[] = [];
  let rss: Record<string, number> = {};
  for (let r = 0; r < N.startups; r++) {
    const nick = `upbot${r}`;
    const start = client.lines.length;
    const h = await startBenchHive({ networks: ircNetwork(ircd, nick), log_level: 'info', plugins: [{ name: 'ping', use: 'ping' }, { name: 'echo', use: 'echo' }, { name: 'help', use: 'help' }] });
    try {
      let pong;
      while (!pong && now() - h.startedAt < 30_000) {
        client.send(`PRIVMSG ${CHANNEL} :!ping`);
        await sleep(5);
        pong = client.lines.slice(start).find((s) => s.line.startsWith(`:${nick}!`) && s.line.endsWith(':pong'));
      }
      firstPong.push(pong ? performance.timeOrigin + pong.at - h.startedAt : NaN);
      // One plugin loaded into the running tree: from spawn to attached (not waiting for a mouth).
      const load = await execa(join(REPO, 'bin/hive'), ['load', '--instance', h.instance, '--name', 'extra', '--use', 'ping'], { env: h.env, reject: false });
      if (load.exitCode !== 0) throw new Error(`hive load failed: ${String(load.stderr)}`);
      const started = await h.waitLog((l) => l.msg === 'node started' && l.child === 'extra');
      const attached = await h.waitLog((l) => l.node === 'extra' && l.msg === 'attached to parent');
      plugin.push((attached.time as number) - (started.time as number));
      if (r === N.startups - 1) {
        // The Python example responder too (Debian's python3 with python3-dbus-next).
        const py = await execa(join(REPO, 'bin/hive'), ['load', '--instance', h.instance, '--name', 'pyresp', '--exec', `/usr/bin/python3 ${join(REPO, 'plugins/examples/python/responder.py')}`], { env: h.env, reject: false });
        if (py.exitCode !== 0) throw new Error(`hive load of the Python example failed: ${String(py.stderr)}`);
        await h.waitLog((l) => l.node === 'pyresp' && l.msg === 'attached to parent');
        await sleep(1000);
        const pids = await treePids(h);
        const bus = await busPid(h);
        const parts = { bus: await rssMb(bus), mouth: await rssMb(pids.get('mouth')!), plugin_idle: await rssMb(pids.get('ping')!), plugin_idle_private: await privateMb(pids.get('ping')!), python_plugin: await rssMb(pids.get('pyresp')!), python_plugin_private: await privateMb(pids.get('pyresp')!), python_plugin_pss: await pssMb(pids.get('pyresp')!), supervisor: await rssMb(h.proc.pid!) };
        const nodes = await Promise.all([...pids].filter(([n]) => n !== 'pyresp' && n !== 'extra').map(([, pid]) => rssMb(pid)));
        rss = { ...parts, hive_total: parts.bus + parts.supervisor + nodes.reduce((a, b) => a + b, 0) };
      }
    } finally {
      await h.stop();
    }
  }
  const bare = execa(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { reject: false });
  await sleep(500);
  const nodeBare = await rssMb(bare.pid!);
  const nodeBarePrivate = await privateMb(bare.pid!);
  bare.kill('SIGKILL');
  await bare.catch(() => undefined);
  const rounded = Object.fromEntries(Object.entries({ ...rss, node_bare: nodeBare, node_bare_private: nodeBarePrivate }).map(([k, v]) => [k, round(v, 1)]));
  return { startup: { first_pong: spread(firstPong, 0), plugin: spread(plugin, 0) }, rss: rounded };
}

/** The same chain with plain dbus-next links (scripts/bench/raw-chain.ts): what the daemon and the hops cost without the SDK. */
async function rawChain(k: number) {
  const p50: number[] = [], p99: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const bus = await startPrivateBus();
    try {
      const out = await execa(process.execPath, [join(DIST, 'scripts/bench/raw-chain.js'), 'root', String(k), String(N.pings)], { env: { HIVE_BUS_ADDRESS: bus.address }, reject: false, timeout: 60_000 });
      const m = /done ([\d.]+) ([\d.]+) ([\d.]+)/.exec(String(out.stdout));
      if (!m) throw new Error(`raw chain ${k} failed: ${String(out.stderr).slice(-500)}`);
      p50.push(Number(m[1])); p99.push(Number(m[3]));
    } finally {
      await bus.stop();
    }
  }
  return { p50: spread(p50, 3).median, p99: spread(p99, 3).median, p50_min: spread(p50, 3).min, p50_max: spread(p50, 3).max };
}

async function main() {
  const t0 = Date.now();
  say(`${QUICK ? 'quick' : 'default'} run; starting ngIRCd`);
  const ircd = await startNgircd();
  const client = await RawIrc.connect(ircd.host, ircd.port, 'bencher');
  client.send(`JOIN ${CHANNEL}`);
  await client.waitFor((l) => l.includes(` JOIN `) && l.startsWith(':bencher!'), 5000);
  try {
    say('baseline: bare irc-framework bot');
    const baseline = await bareBot(ircd, client);
    say('hive, depth 1');
    const d1 = await hiveLatency(ircd, client, 'hive1', [{ name: 'ping', use: 'ping' }], true);
    say('hive, ten built-ins under the mouth, and its PSS floor');
    const ten = await hive10(ircd, client, { runs: RUNS, pings: N.pings, pipelined: N.pipelined }, { p50: d1.lat.p50.median, replies_per_s: d1.tp!.replies_per_s.median }, { nodeArgs: PLUGIN_NODE_ARGS });
    say('hive, depth 1, ping filtered (an exec: plugin behind its xdg-dbus-proxy)');
    const d1f = await hiveLatency(ircd, client, 'hive1f', [{ name: 'ping', exec: [process.execPath, join(DIST, 'plugins/run.js'), 'ping'] }], false, async (h) => {
      const pids = await proxyPids(h);
      if (pids.length !== 1) throw new Error(`expected one proxy for the filtered ping, found ${pids.length}`);
      return { proxy_pss_mb: round(await pssMb(pids[0]!), 1), proxy_rss_mb: round(await rssMb(pids[0]!), 1) };
    }) as Awaited<ReturnType<typeof hiveLatency>> & { probed: { proxy_pss_mb: number; proxy_rss_mb: number } };
    say('hive, depth 4');
    // Direct, as before issue 16, so that depth 4 stays comparable across versions: the cost of the
    // filter is measured on its own above.
    const d4 = await hiveLatency(ircd, client, 'hive4', [
      { name: 'f1', exec: passthrough, trust: 'direct' }, { name: 'f2', exec: passthrough, parent: 'f1', trust: 'direct' }, { name: 'f3', exec: passthrough, parent: 'f2', trust: 'direct' }, { name: 'ping', use: 'ping', parent: 'f3' },
    ], false);
    say('raw dbus-next chains of 1 and 4 links (the floor)');
    const raw1 = await rawChain(1);
    const raw4 = await rawChain(4);
    say('fan-out');
    const fan = await fanout();
    say('flood control (in parallel with recovery)');
    const floodP = flood(ircd, client);
    say('recovery');
    const rec = await recovery(ircd, client);
    const fl = await floodP;
    say('start-up and memory');
    const sm = await startupAndMemory(ircd, client);

    const base50 = baseline.latency.p50.median;
    const flat = (l: LatencyRuns) => ({
      p50: l.p50.median, p90: l.p90.median, p99: l.p99.median, p50_min: l.p50.min, p50_max: l.p50.max, ratio: round(l.p50.median / base50),
    });
    const result = {
      machine: { cpus: (await import('node:os')).cpus().length, node: process.version, quick: QUICK },
      baseline: { latency: { p50: base50, p90: baseline.latency.p90.median, p99: baseline.latency.p99.median, p50_min: baseline.latency.p50.min, p50_max: baseline.latency.p50.max }, throughput: { replies_per_s: baseline.throughput.replies_per_s.median, lost: baseline.throughput.lost } },
      latency: {
        // ratio_to_raw: depth 4 against the raw dbus-next chain of 4 links of this run (issue 17).
        depth1: flat(d1.lat), depth4: { ...flat(d4.lat), ratio_to_raw: round(d4.lat.p50.median / raw4.p50) },
        // The same ping as an exec: plugin behind its proxy; filter_ratio is its p50 over depth 1's.
        depth1_filtered: { ...flat(d1f.lat), filter_ratio: round(d1f.lat.p50.median / d1.lat.p50.median) },
        proxy: d1f.probed,
        // Signal down and Send up through k plain dbus-next processes, no IRC: the part of the
        // depth figures that is the daemon and the process hops. floor_ratio4 is what depth 4
        // would be if each of the three extra hops cost only what a raw link costs.
        raw_chain1: raw1, raw_chain4: raw4,
        floor_ratio4: round((d1.lat.p50.median + raw4.p50 - raw1.p50) / base50),
      },
      throughput: { replies_per_s: d1.tp!.replies_per_s.median, min: d1.tp!.replies_per_s.min, max: d1.tp!.replies_per_s.max, lost: d1.tp!.lost },
      fanout: {
        subs1: { per_s: fan.subs1!.per_s.median, lost: fan.subs1!.lost }, subs10: { per_s: fan.subs10!.per_s.median, lost: fan.subs10!.lost },
        raw1: { per_s: fan.raw1!.per_s.median, lost: fan.raw1!.lost }, raw10: { per_s: fan.raw10!.per_s.median, lost: fan.raw10!.lost },
        ratio1: fan.ratio1, ratio10: fan.ratio10,
      },
      flood: fl,
      reparent: rec.reparent,
      heal: rec.heal,
      mouth_restart: { ms: rec.mouth_restart.median, min: rec.mouth_restart.min, max: rec.mouth_restart.max },
      // plugin_pss: the ten-plugin hive's PSS with one more idle plugin (ping) minus without it;
      // plugin_pss_process: that plugin process's own PSS (scripts/bench/hive10.ts).
      rss: { ...sm.rss, plugin_pss: ten.extra_plugin.delta_mb, plugin_pss_process: ten.extra_plugin.process_mb },
      hive10: ten,
      startup: { first_pong: sm.startup.first_pong.median, first_pong_min: sm.startup.first_pong.min, first_pong_max: sm.startup.first_pong.max, plugin: sm.startup.plugin.median },
      seconds: Math.round((Date.now() - t0) / 1000),
    };
    if (!JSON_OUT) printTable(result);
    else process.stdout.write(JSON.stringify(result) + '\n');
  } finally {
    client.close();
    await ircd.stop();
  }
}

await main();
process.exit(0);
