/**
 * `node dist/scripts/bench/hive10-ab.js [--quick] [--rounds=N] [--variant=NAME:NODE_ARGS]...`:
 * the hive10 scenario alone, for an A/B of node options given to the ten plugins (issue 17's
 * "V8 heap settings per role"). One ngIRCd and one one-plugin hive (the reference of the ratios),
 * then each variant in turn, `rounds` times, alternating, so that a machine whose load drifts
 * drifts under every variant alike. A variant `NAME:` with no arguments runs the ten with no
 * extra node options (as `exec:` plugins, like the others, so only the options differ); the
 * variant `use` runs them as `use:` plugins (what the supervisor gives a built-in).
 * With `--one`, each variant runs the one-plugin hive instead (ping alone, with those node
 * options): what the options cost the plugin that answers every message, without nine others
 * sharing the two cores.
 * `--late=MS`: read the PSS again MS after pss_after (does memory come back?).
 * Prints one JSON object per run on stdout, and a summary table on stderr.
 */
import { join } from 'node:path';
import { CHANNEL, NO_FLOOD, ircNetwork, latencyRuns, round, throughputRuns, waitJoined } from './irc-measure.js';
import { DIST, startBenchHive, treePids } from './hive-process.js';
import { pssMb } from './pss.js';
import { hive10 } from './hive10.js';
import { RawIrc } from './raw-irc.js';
import { startNgircd } from '../../test/helpers/ircd.js';

const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
const ONE = argv.includes('--one');
const ROUNDS = Number(argv.find((a) => a.startsWith('--rounds='))?.slice(9) ?? 2);
const RUNS = QUICK ? 2 : 3;
const LATE_MS = Number(argv.find((a) => a.startsWith('--late='))?.slice(7) ?? 0);
const N = { pings: QUICK ? 100 : 300, pipelined: QUICK ? 2000 : 5000 };
const variants = argv.filter((a) => a.startsWith('--variant=')).map((a) => {
  const v = a.slice('--variant='.length);
  const colon = v.indexOf(':');
  const name = colon < 0 ? v : v.slice(0, colon);
  return { name, nodeArgs: name === 'use' ? undefined : (colon < 0 ? '' : v.slice(colon + 1)).split(' ').filter(Boolean) };
});
if (!variants.length) variants.push({ name: 'use', nodeArgs: undefined });
const say = (m: string) => process.stderr.write(`hive10-ab: ${m}\n`);

const ircd = await startNgircd();
const client = await RawIrc.connect(ircd.host, ircd.port, 'bencher');
client.send(`JOIN ${CHANNEL}`);
await client.waitFor((l) => l.includes(' JOIN ') && l.startsWith(':bencher!'), 5000);
const rows: string[] = [];
try {
  let hives = 0;
  const onePlugin = async (nodeArgs?: string[]) => {
    const nick = `hive1_${++hives}`;
    const ping = nodeArgs ? { name: 'ping', exec: [process.execPath, ...nodeArgs, join(DIST, 'plugins/run.js'), 'ping'], trust: 'direct' } : { name: 'ping', use: 'ping' };
    const h = await startBenchHive({ networks: ircNetwork(ircd, nick, NO_FLOOD), plugins: [ping], log_level: 'warn' });
    try {
      await waitJoined(client, nick);
      const lat = await latencyRuns(client, nick, RUNS, N.pings);
      const tp = await throughputRuns(client, nick, RUNS, N.pipelined);
      const pid = (await treePids(h)).get('ping')!;
      return { p50: lat.p50.median, p99: lat.p99.median, replies_per_s: tp.replies_per_s.median, lost: tp.lost, ping_pss_after: round(await pssMb(pid), 1) };
    } finally {
      await h.stop();
    }
  };
  if (ONE) {
    for (let r = 0; r < ROUNDS; r++) {
      for (const v of variants) {
        const o = await onePlugin(v.nodeArgs);
        process.stdout.write(JSON.stringify({ variant: v.name, round: r + 1, ...o }) + '\n');
        rows.push([v.name.padEnd(12), r + 1, o.p50, o.p99, o.replies_per_s, o.lost, o.ping_pss_after].join('\t'));
        say(rows[rows.length - 1]!);
      }
    }
    process.stderr.write(`${['variant     ', 'round', 'p50', 'p99', 'rps', 'lost', 'ping after'].join('\t')}\n${rows.join('\n')}\n`);
    rows.length = 0;
  }
  say('one-plugin hive (the reference)');
  const one = ONE ? undefined : await onePlugin();
  if (one) say(`one: p50 ${one.p50} ms, ${one.replies_per_s}/s`);
  for (let r = 0; one && r < ROUNDS; r++) {
    for (const v of variants) {
      say(`round ${r + 1}, ${v.name}`);
      const t = await hive10(ircd, client, { runs: RUNS, pings: N.pings, pipelined: N.pipelined }, one, { nodeArgs: v.nodeArgs, lateMs: LATE_MS });
      process.stdout.write(JSON.stringify({ variant: v.name, round: r + 1, one, ...t }) + '\n');
      const n = t.pss_after_nodes;
      rows.push([v.name.padEnd(12), r + 1, t.pss_idle, t.pss_after, t.pss_floor, t.latency.p50, t.latency.ratio_to_one, t.throughput.replies_per_s, t.throughput.ratio_to_one, t.throughput.lost,
        t.extra_plugin.process_mb, t.pss_idle_nodes.echo, n.echo, n.ping, n.seen, n.mouth, t.pss_after_late ?? '', t.pss_after_late_nodes?.echo ?? ''].join('\t'));
      say(rows[rows.length - 1]!);
    }
  }
} finally {
  client.close();
  await ircd.stop();
}
if (rows.length) process.stderr.write(`${['variant     ', 'round', 'idle', 'after', 'floor', 'p50', 'p50/one', 'rps', 'rps/one', 'lost', 'extra', 'echo idle', 'echo after', 'ping after', 'seen after', 'mouth after', 'late', 'echo late'].join('\t')}\n${rows.join('\n')}\n`);
process.exit(0);
