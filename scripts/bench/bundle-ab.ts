/**
 * `node dist/scripts/bench/bundle-ab.js [--runs=3] [--idle=MS] [--plugin=ping] 'VARIANT=[NODE_OPTION...] FILE'...`:
 * what a plugin process costs run from each entry file (issue 17, one file per node entry point):
 * a hive with `ping` under the mouth on a private ngIRCd; then, `runs` times, each variant in
 * turn (the order alternating) is loaded as an `exec:` plugin, `trust: direct`, with the
 * supervisor's plugin node options, and read `idle` ms (default 3 s) after it attached: its own
 * PSS by kind of mapping (smaps.ts; `code`, node's own pages, moves with how many node processes share them) and spawn → attached from the supervisor's and the node's
 * log lines; then unloaded. `plain` is always `dist/plugins/run.js NAME`. One JSON object on stdout.
 */
import { join } from 'node:path';
import { execa } from 'execa';
import { stringify } from 'yaml';
import { CHANNEL, NO_FLOOD, ircNetwork, round, sleep, waitJoined } from './irc-measure.js';
import { DIST, startBenchHive, treePids } from './hive-process.js';
import { smapsBreakdown } from './smaps.js';
import { RawIrc } from './raw-irc.js';
import { PLUGIN_NODE_OPTIONS } from '../../tree-supervisor/node-process.js';
import { startNgircd } from '../../test/helpers/ircd.js';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt;
const RUNS = Number(opt('runs', '3')), IDLE_MS = Number(opt('idle', '3000')), PLUGIN = opt('plugin', 'ping');
const variants: [string, string[]][] = [['plain', [join(DIST, 'plugins/run.js'), PLUGIN]]];
for (const a of argv.filter((x) => !x.startsWith('--'))) variants.push([a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1).split(' ')]);
const say = (m: string) => process.stderr.write(`bundle-ab: ${m}\n`);

const ircd = await startNgircd();
const client = await RawIrc.connect(ircd.host, ircd.port, 'abber');
client.send(`JOIN ${CHANNEL}`);
const nick = 'abbot';
const h = await startBenchHive({ networks: ircNetwork(ircd, nick, NO_FLOOD), plugins: [{ name: 'ping', use: 'ping' }], log_level: 'info' });
const out: Record<string, { pss: number[]; v8: number[]; code: number[]; anon_private: number[]; attach_ms: number[] }> = {};
try {
  await waitJoined(client, nick);
  await sleep(1000);
  for (let r = 0; r < RUNS; r++) {
    const order = r % 2 ? [...variants].reverse() : variants;
    for (const [label, args] of order) {
      const name = `x${r}${label.replace(/[^a-z0-9]/gi, '')}`;
      const spec = { name, exec: [process.execPath, ...PLUGIN_NODE_OPTIONS, ...args], trust: 'direct' };
      const since = h.logs.length;
      const load = await execa(join(DIST, '../bin/hive'), ['load', '-', '--instance', h.instance], { env: h.env, input: stringify(spec), reject: false });
      if (load.exitCode !== 0) throw new Error(`hive load failed: ${String(load.stderr)}`);
      const started = await h.waitLog((l) => l.msg === 'node started' && l.child === name, 20_000, since);
      const attached = await h.waitLog((l) => l.node === name && l.msg === 'attached to parent', 20_000, since);
      await sleep(IDLE_MS);
      const pid = (await treePids(h)).get(name)!;
      const b = await smapsBreakdown(pid);
      const o = (out[label] ??= { pss: [], v8: [], code: [], anon_private: [], attach_ms: [] });
      o.pss.push(round(b.total, 1)); o.v8.push(round(b.v8, 1)); o.code.push(round(b.code, 1)); o.anon_private.push(round(b.anon_private, 1));
      o.attach_ms.push((attached.time as number) - (started.time as number));
      say(`run ${r + 1} ${label}: PSS ${round(b.total, 1)} MB (v8 ${round(b.v8, 1)}, code ${round(b.code, 1)}; anonymous private ${round(b.anon_private, 1)}), attached in ${o.attach_ms.at(-1)} ms`);
      const un = await execa(join(DIST, '../bin/hive'), ['unload', name, '--instance', h.instance], { env: h.env, reject: false });
      if (un.exitCode !== 0) throw new Error(`hive unload failed: ${String(un.stderr)}`);
      await sleep(500);
    }
  }
} finally {
  client.close();
  await h.stop();
  await ircd.stop();
}
process.stdout.write(`${JSON.stringify(out)}\n`);
