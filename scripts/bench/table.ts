/** The bench's report as a table for a reader: each figure with its target (docs/performance.md). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the report is built field by field in bench.ts; this only prints it
export function printTable(r: Record<string, any>): void {
  const rows: [string, string, string][] = [
    ['baseline p50 / p99 (bare irc-framework bot)', `${r.baseline.latency.p50} / ${r.baseline.latency.p99} ms`, ''],
    ['latency depth 1 p50 / p90 / p99', `${r.latency.depth1.p50} / ${r.latency.depth1.p90} / ${r.latency.depth1.p99} ms`, `ratio ${r.latency.depth1.ratio} (target ≤ 4)`],
    ['latency depth 1 filtered p50 / p99', `${r.latency.depth1_filtered.p50} / ${r.latency.depth1_filtered.p99} ms`, `×${r.latency.depth1_filtered.filter_ratio} of direct (target ≤ 1.25); proxy PSS ${r.latency.proxy.proxy_pss_mb} MB`],
    ['latency depth 4 p50 / p90 / p99', `${r.latency.depth4.p50} / ${r.latency.depth4.p90} / ${r.latency.depth4.p99} ms`, `×${r.latency.depth4.ratio_to_raw} of the raw chain of 4 (target ≤ 1.1); ratio ${r.latency.depth4.ratio} to the bare bot`],
    ['throughput depth 1', `${r.throughput.replies_per_s} replies/s, ${r.throughput.lost} lost`, `bare bot ${r.baseline.throughput.replies_per_s}/s (target ≥ 5000, 0 lost)`],
    ['fan-out 1 subscriber (hive / raw dbus-next)', `${r.fanout.subs1.per_s} / ${r.fanout.raw1.per_s} per s`, `ratio ${r.fanout.ratio1}`],
    ['fan-out 10 subscribers (hive / raw dbus-next)', `${r.fanout.subs10.per_s} / ${r.fanout.raw10.per_s} per s, lost ${r.fanout.subs10.lost}`, `ratio ${r.fanout.ratio10} (target ≥ 0.9)`],
    ['flood: most lines in any 10 s', `${r.flood.max_in_10s} of ${r.flood.lines}`, `allowed ${r.flood.allowed_in_10s}: ${r.flood.within_limit ? 'within' : 'EXCEEDED'}`],
    ['re-parent after kill -9 p50 / p99', `${r.reparent.p50} / ${r.reparent.p99} ms`, `(target p99 ≤ 50)`],
    ['heal p50 / p99', `${r.heal.p50} / ${r.heal.p99} ms`, ''],
    ['mouth kill -9 → answering again', `${r.mouth_restart.ms} ms`, ''],
    ['raw dbus-next chain of 1 / 4 links p50', `${r.latency.raw_chain1.p50} / ${r.latency.raw_chain4.p50} ms`, `depth-4 floor ratio ${r.latency.floor_ratio4}`],
    ['RSS bus / mouth / idle plugin / supervisor', `${r.rss.bus} / ${r.rss.mouth} / ${r.rss.plugin_idle} / ${r.rss.supervisor} MB`, `bare node ${r.rss.node_bare} MB`],
    ['RSS / private: Python example responder', `${r.rss.python_plugin} / ${r.rss.python_plugin_private} MB`, ''],
    ['private memory: idle plugin / bare node', `${r.rss.plugin_idle_private} / ${r.rss.node_bare_private} MB`, 'what one more plugin costs (node\'s code pages are shared)'],
    ['RSS whole default hive', `${r.rss.hive_total} MB`, ''],
    ['start-up: hive up → first pong', `${r.startup.first_pong} ms`, `(target ≤ 1000); one plugin spawn → attached ${r.startup.plugin} ms`],
    ['hive10: PSS idle / floor', `${r.hive10.pss_idle} / ${r.hive10.pss_floor} MB`, `×${r.hive10.ratio_idle} (target ≤ 1.3); ${r.hive10.node_processes} node processes, floor ${r.hive10.floor_per_process} MB each`],
    ['hive10: PSS after its traffic / floor', `${r.hive10.pss_after} / ${r.hive10.pss_floor} MB`, `×${r.hive10.ratio_after} (target ≤ 1.6)`],
    ['hive10: one more idle plugin (PSS 11 − 10 / its own)', `${r.rss.plugin_pss} / ${r.rss.plugin_pss_process} MB`, `(target ≤ 14); Python example ${r.rss.python_plugin_pss} MB PSS (target ≤ 15)`],
    ['hive10: latency p50 / p90 / p99', `${r.hive10.latency.p50} / ${r.hive10.latency.p90} / ${r.hive10.latency.p99} ms`, `×${r.hive10.latency.ratio_to_one} of one plugin (target ≤ 1.25)`],
    ['hive10: throughput', `${r.hive10.throughput.replies_per_s} replies/s, ${r.hive10.throughput.lost} lost`, `×${r.hive10.throughput.ratio_to_one} of one plugin (target ≥ 0.8)`],
    ['hive10: hive up → all ten attached', `${r.hive10.startup_ms} ms`, '(target ≤ 2000)'],
  ];
  const w0 = Math.max(...rows.map((x) => x[0].length)), w1 = Math.max(...rows.map((x) => x[1].length));
  process.stdout.write(rows.map(([a, b, c]) => `${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`).join('\n') + `\n(${r.seconds} s, ${r.machine.cpus} cores, node ${r.machine.node}${r.machine.quick ? ', --quick' : ''})\n`);
}
