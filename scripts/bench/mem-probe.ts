/**
 * `node dist/scripts/bench/mem-probe.js [--runs=3] [--pings=300] [--pipelined=5000] [--late=MS]
 * [--idle=MS] [--env=KEY=VALUE]... [--poke] [--trim] [--usr2]`: where each node process's memory is in the ten-plugin hive (issue 17),
 * idle (`idle` ms after it joined, default 2 s) and after the bench's traffic: each node's PSS split by kind of mapping (smaps.ts: V8's
 * heap, malloc's arenas, code, stacks), read at idle, 2 s after the traffic, and again `late` ms
 * later (default 10 s: what the idle collection gave back by then). `--env` words are set in the
 * supervisor's environment, which every node it spawns inherits (e.g. MALLOC_ARENA_MAX=2).
 * One JSON object on stdout; a table per reading on stderr.
 */
import { readFile } from 'node:fs/promises';
import { execa } from 'execa';
import { CHANNEL, NO_FLOOD, ircNetwork, latencyRuns, round, sleep, throughputRuns, waitJoined } from './irc-measure.js';
import { startBenchHive, treePids, type BenchHive } from './hive-process.js';
import { smapsBreakdown, type SmapsBreakdown } from './smaps.js';
import { TEN } from './hive10.js';
import { RawIrc } from './raw-irc.js';
import { startNgircd } from '../../test/helpers/ircd.js';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: number) => Number(argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt);
const RUNS = opt('runs', 3), PINGS = opt('pings', 300), PIPELINED = opt('pipelined', 5000), LATE_MS = opt('late', 10_000), IDLE_MS = opt('idle', 2000);
const say = (m: string) => process.stderr.write(`mem-probe: ${m}\n`);

/** CPU seconds (user + system) of each node so far, from /proc/PID/stat. */
async function cpu(h: BenchHive): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [name, pid] of await treePids(h)) {
    try {
      const st = await readFile(`/proc/${pid}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      out[name] = (Number(f[11]) + Number(f[12])) / 100;
    } catch { /* gone */ }
  }
  return out;
}

async function reading(h: BenchHive): Promise<Record<string, SmapsBreakdown>> {
  const out: Record<string, SmapsBreakdown> = { supervisor: await smapsBreakdown(h.proc.pid!) };
  for (const [name, pid] of await treePids(h)) out[name] = await smapsBreakdown(pid);
  return out;
}
function table(label: string, r: Record<string, SmapsBreakdown>): void {
  const cols: (keyof SmapsBreakdown)[] = ['total', 'v8', 'brk', 'arenas', 'code', 'stacks'];
  const sum = Object.values(r).reduce((a, b) => a + b.total, 0);
  process.stderr.write(`${label} (PSS MB; all nodes ${round(sum, 1)})\n${['node'.padEnd(12), ...cols].join('\t')}\n`);
  for (const [name, b] of Object.entries(r)) process.stderr.write(`${[name.padEnd(12), ...cols.map((c) => b[c])].join('\t')}\n`);
}

const ircd = await startNgircd();
const client = await RawIrc.connect(ircd.host, ircd.port, 'prober');
client.send(`JOIN ${CHANNEL}`);
await client.waitFor((l) => l.includes(' JOIN ') && l.startsWith(':prober!'), 5000);
// Set after ngIRCd started: only the hive's processes get it.
for (const a of argv.filter((x) => x.startsWith('--env='))) {
  const kv = a.slice(6), eq = kv.indexOf('=');
  process.env[kv.slice(0, eq)] = kv.slice(eq + 1);
}
const nick = 'memprobe';
const h = await startBenchHive({ networks: ircNetwork(ircd, nick, NO_FLOOD), plugins: TEN.map((name) => ({ name, use: name })), log_level: 'info' });
let result;
try {
  await Promise.all(TEN.map((name) => h.waitLog((l) => l.node === name && l.msg === 'attached to parent', 30_000)));
  await waitJoined(client, nick);
  await sleep(IDLE_MS);
  const idle = await reading(h);
  table('idle', idle);
  // --usr2: SIGUSR2 to every node before and after the traffic (for an LD_PRELOAD'd malloc counter that dumps on it).
  const usr2 = async () => { if (argv.includes('--usr2')) for (const [, pid] of await treePids(h)) process.kill(pid, 'SIGUSR2'); };
  await usr2();
  const cpu0 = await cpu(h);
  const lat = await latencyRuns(client, nick, RUNS, PINGS);
  const tp = await throughputRuns(client, nick, RUNS, PIPELINED);
  await usr2();
  const cpu1 = await cpu(h);
  const cpuTraffic = Object.fromEntries(Object.entries(cpu1).map(([k, v]) => [k, round(v - (cpu0[k] ?? 0), 2)]));
  say(`CPU s in the traffic: ${JSON.stringify(cpuTraffic)}`);
  say(`p50 ${lat.p50.median} ms, ${tp.replies_per_s.median} replies/s, ${tp.lost} lost`);
  await sleep(2000);
  const after = await reading(h);
  table('after (+2 s)', after);
  await sleep(LATE_MS);
  const late = await reading(h);
  table(`late (+${(2000 + LATE_MS) / 1000} s)`, late);
  if (argv.includes('--poke')) {
    // One more `!ping` after the quiet: does a little traffic let malloc give the burst's heap back?
    for (let i = 0; i < 3; i++) { client.send(`PRIVMSG ${CHANNEL} :!ping`); await sleep(500); }
    await sleep(2000);
    table('after 3 more !ping (poke)', await reading(h));
  }
  if (argv.includes('--trim')) {
    // Is what malloc holds free but kept (fragmented), or live? glibc's malloc_trim(0) in each node, through gdb.
    // First what a program can do without malloc_trim: free a block of 100 KB (glibc consolidates its
    // fast bins and trims the top of the heap when a free chunk of 64 KB or more is freed).
    for (const [, pid] of await treePids(h)) await execa('gdb', ['-p', String(pid), '-batch', '-ex', 'call (void)free((void*)malloc(100000))'], { reject: false });
    await sleep(500);
    table('after free(malloc(100000))', await reading(h));
    for (const [, pid] of await treePids(h)) await execa('gdb', ['-p', String(pid), '-batch', '-ex', 'call (int)malloc_trim(0)'], { reject: false });
    await sleep(500);
    table('after malloc_trim(0)', await reading(h));
  }
  const collected = h.logs.filter((l) => l.msg === 'heap collected after a burst').map((l) => ({ node: l.node, before_mb: l.before_mb, after_mb: l.after_mb }));
  result = { cpu_traffic: cpuTraffic, env: argv.filter((x) => x.startsWith('--env=')).map((x) => x.slice(6)), p50: lat.p50.median, replies_per_s: tp.replies_per_s.median, lost: tp.lost, idle, after, late, collected };
} finally {
  await h.stop();
  client.close();
  await ircd.stop();
}
process.stdout.write(JSON.stringify(result) + '\n');
process.exit(0);
