/**
 * The `hive10` scenario (issue 17): the ten built-ins under the mouth, on the bench's ngIRCd, against
 * the one-plugin hive and against a floor measured in the same run.
 *
 * - pss_idle: PSS of every process of the bot (pss.ts) once all ten are attached and it idles;
 * - plugin_pss: one more idle plugin (`ping`, loaded as `extra`): the hive's PSS with eleven minus
 *   with ten, measured at idle before the traffic, then unloaded (and that one process's own PSS);
 * - latency and throughput as for the one-plugin hive, with ratios to it;
 * - pss_after: PSS again after that traffic;
 * - pss_floor: as many bare node processes with dbus-next connected (dbus-idle.ts) as the hive had
 *   node processes, plus their dbus-daemon, with the hive stopped.
 */
import { join } from 'node:path';
import { execa } from 'execa';
import type { Ircd } from '../../test/helpers/ircd.js';
import { startPrivateBus } from '../../tree-supervisor/private-bus.js';
import { DIST, hiveCli, startBenchHive, treePids, type BenchHive } from './hive-process.js';
import { ircNetwork, latencyRuns, NO_FLOOD, round, sleep, throughputRuns, waitJoined } from './irc-measure.js';
import { pssMb, treePss } from './pss.js';
import type { RawIrc } from './raw-irc.js';

export const TEN = ['ping', 'echo', 'help', 'text', 'seen', 'notes', 'autorespond', 'remind', 'alerts', 'stats'];
/**
 * How long a bot is left alone before its memory is read, idle or after the traffic: what it holds
 * then is what it keeps. V8's memory reducer gives start-up garbage back within about 10 s, and the
 * runtime's idle collection (idle-gc.ts) shrinks what a burst grew after 6 s of quiet; a read at
 * 2 s measured the high-water mark of the moment instead (issue 17: "give memory back after a burst").
 */
const SETTLE_MS = 10_000;

export interface Hive10Counts { runs: number; pings: number; pipelined: number }
/**
 * nodeArgs: run the ten as `exec: [node, ...nodeArgs, plugins/run.js, NAME]` with `trust: direct`
 * (what `use:` runs, plus node options for plugins only: `npm run bench -- --plugin-node-args=…`),
 * to measure a lever such as V8's heap settings per role (issue 17) before the supervisor has it.
 */
export interface Hive10Options {
  /** Node options for the ten; `KEY=VALUE` words among them are set in their environment instead. */
  nodeArgs?: string[];
  /** Read the PSS once more this long after pss_after (pss_after_late): does the hive give memory back? */
  lateMs?: number;
}
/** The one-plugin depth-1 hive of the same run. */
export interface OnePlugin { p50: number; replies_per_s: number }

async function pss(root: number) {
  const t = await treePss(root);
  return { mb: round(t.mb, 1), processes: t.processes, node_processes: t.node_processes, by: Object.fromEntries(Object.entries(t.by).map(([k, v]) => [k, round(v, 1)])) };
}

/** Each node's own PSS (MB), by node name, and the supervisor's: where the memory sits. */
async function nodePss(h: BenchHive): Promise<Record<string, number>> {
  const out: Record<string, number> = { supervisor: round(await pssMb(h.proc.pid!), 1) };
  for (const [name, pid] of await treePids(h)) out[name] = round(await pssMb(pid), 1);
  return out;
}

export async function hive10(ircd: Ircd, client: RawIrc, n: Hive10Counts, one: OnePlugin, o: Hive10Options = {}) {
  const nick = 'hive10';
  // KEY=VALUE words of nodeArgs are the plugin's environment (through env(1)), the rest node's options.
  const env = (o.nodeArgs ?? []).filter((a) => /^[A-Z_]+=/.test(a)), args = (o.nodeArgs ?? []).filter((a) => !/^[A-Z_]+=/.test(a));
  const spec = (name: string) => o.nodeArgs ? { name, exec: [...(env.length ? ['/usr/bin/env', ...env] : []), process.execPath, ...args, join(DIST, 'plugins/run.js'), name], trust: 'direct' } : { name, use: name };
  const h = await startBenchHive({ networks: ircNetwork(ircd, nick, NO_FLOOD), plugins: TEN.map(spec), log_level: 'info' });
  let idle, after, extra, lat, tp, startup, nodesIdle, nodesAfter, late, nodesLate;
  try {
    const attached = await Promise.all(TEN.map((name) => h.waitLog((l) => l.node === name && l.msg === 'attached to parent', 30_000)));
    startup = Math.round(Math.max(...attached.map((l) => l.time as number)) - h.startedAt);
    await waitJoined(client, nick);
    await sleep(SETTLE_MS);
    idle = await pss(h.proc.pid!);
    nodesIdle = await nodePss(h);

    const since = h.logs.length;
    await hiveCli(h, ['load', '--name', 'extra', '--use', 'ping']);
    await h.waitLog((l) => l.node === 'extra' && l.msg === 'attached to parent', 20_000, since);
    await sleep(SETTLE_MS);
    const eleven = await pss(h.proc.pid!);
    const extraPid = (await treePids(h)).get('extra')!;
    extra = { delta_mb: round(eleven.mb - idle.mb, 1), process_mb: round(await pssMb(extraPid), 1) };
    await hiveCli(h, ['unload', 'extra']);
    await h.waitLog((l) => l.child === 'extra' && l.msg === 'node unloaded', 20_000, since);

    lat = await latencyRuns(client, nick, n.runs, n.pings);
    tp = await throughputRuns(client, nick, n.runs, n.pipelined);
    await sleep(SETTLE_MS);
    after = await pss(h.proc.pid!);
    nodesAfter = await nodePss(h);
    if (o.lateMs) {
      await sleep(o.lateMs);
      late = await pss(h.proc.pid!);
      nodesLate = await nodePss(h);
    }
  } finally {
    await h.stop();
  }
  const floor = await pssFloor(idle.node_processes);
  return {
    ...(o.nodeArgs ? { plugin_node_args: o.nodeArgs.join(' ') } : {}),
    startup_ms: startup,
    pss_idle: idle.mb, pss_after: after.mb,
    pss_floor: floor.mb,
    ratio_idle: round(idle.mb / floor.mb), ratio_after: round(after.mb / floor.mb),
    processes: idle.processes, node_processes: idle.node_processes,
    pss_idle_by: idle.by, pss_after_by: after.by, floor_per_process: floor.per_process,
    pss_idle_nodes: nodesIdle, pss_after_nodes: nodesAfter,
    latency: { p50: lat.p50.median, p90: lat.p90.median, p99: lat.p99.median, p50_min: lat.p50.min, p50_max: lat.p50.max, ratio_to_one: round(lat.p50.median / one.p50) },
    throughput: { replies_per_s: tp.replies_per_s.median, min: tp.replies_per_s.min, max: tp.replies_per_s.max, lost: tp.lost, ratio_to_one: round(tp.replies_per_s.median / one.replies_per_s) },
    extra_plugin: extra,
    ...(late ? { pss_after_late: late.mb, late_ms: o.lateMs, pss_after_late_nodes: nodesLate } : {}),
  };
}

/** `count` idle node processes with dbus-next connected to a private bus: their PSS and the bus's. */
export async function pssFloor(count: number) {
  const bus = await startPrivateBus();
  const procs = Array.from({ length: count }, (_, i) => execa(process.execPath, [join(DIST, 'scripts/bench/dbus-idle.js'), String(i)], {
    env: { HIVE_BUS_ADDRESS: bus.address }, stdin: 'ignore', stdout: 'pipe', stderr: 'inherit', buffer: false, reject: false,
  }));
  try {
    await Promise.all(procs.map((p) => new Promise<void>((resolve) => p.stdout!.once('data', () => resolve()))));
    await sleep(SETTLE_MS);
    const each = await Promise.all(procs.map((p) => pssMb(p.pid!)));
    const nodes = each.reduce((a, b) => a + b, 0);
    const mb = nodes + await pssMb(bus.pid);
    return { mb: round(mb, 1), per_process: round(nodes / count, 1) };
  } finally {
    for (const p of procs) p.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.catch(() => undefined)));
    await bus.stop();
  }
}
