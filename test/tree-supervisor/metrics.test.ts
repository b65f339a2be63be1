// hive web's /metrics (issue 20): the Prometheus text format, parsed line by line against its
// grammar; hostile counter and node names sanitized; and on a running hive on ngIRCd, every value
// checked against `hive tree --json` (per node) and the mouth's counters (per network).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { renderMetrics, metricName, type MetricsNode } from '../../tree-supervisor/web/metrics.js';
import { startHive, type TestHive } from '../helpers/hive.js';
import { startNgircd, type Ircd } from '../helpers/ircd.js';
import { DIST } from '../helpers/paths.js';
import { callWithDeadline, connectBus } from '../../protocol/sdk/bus.js';
import { SUPERVISOR_INTERFACE, SUPERVISOR_PATH } from '../../protocol/names.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The text format 0.0.4 (prometheus.io/docs/instrumenting/exposition_formats): HELP and TYPE lines,
 * samples `name{label="value",…} value`, a family's samples together after its TYPE, one TYPE per
 * family, no series twice. Throws with the line number at the first line that breaks it.
 */
function parseExposition(text: string): Map<string, number> {
  const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
  const VALUE = '(?:[+-]?(?:\\d+\\.?\\d*(?:[eE][+-]?\\d+)?|\\.\\d+(?:[eE][+-]?\\d+)?)|NaN|[+-]Inf)';
  const sample = new RegExp(`^(${NAME})(\\{(?:${LABEL})(?:,${LABEL})*,?\\}|\\{\\})? (${VALUE})(?: -?\\d+)?$`);
  const help = new RegExp(`^# HELP (${NAME}) (?:[^\\\\\\n]|\\\\[\\\\n])*$`);
  const type = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`);
  const series = new Map<string, number>();
  const typed = new Map<string, string>();
  const closed = new Set<string>();
  let current: string | undefined;
  if (!text.endsWith('\n')) throw new Error('the text does not end with a line feed');
  text.slice(0, -1).split('\n').forEach((line, i) => {
    const at = `line ${i + 1}: ${JSON.stringify(line)}`;
    let m;
    if ((m = type.exec(line))) {
      if (typed.has(m[1]!)) throw new Error(`${at}: a second TYPE for ${m[1]}`);
      if (current && current !== m[1]) closed.add(current);
      typed.set(m[1]!, m[2]!);
      current = m[1];
    } else if ((m = help.exec(line))) {
      if (current && current !== m[1]) closed.add(current);
      current = m[1];
    } else if (line.startsWith('#')) {
      throw new Error(`${at}: a comment that is neither HELP nor TYPE`);
    } else if ((m = sample.exec(line))) {
      const family = m[1]!;
      if (!typed.has(family)) throw new Error(`${at}: a sample before its TYPE`);
      if (closed.has(family) || family !== current) throw new Error(`${at}: the samples of ${family} are not together`);
      const key = `${family}${m[2] ?? ''}`;
      if (series.has(key)) throw new Error(`${at}: the series ${key} twice`);
      series.set(key, Number(m[3]!.replace('Inf', 'Infinity')));
    } else {
      throw new Error(`${at}: not in the text format`);
    }
  });
  return series;
}

const node = (over: Partial<MetricsNode> & { name: string }): MetricsNode => ({ state: 'running', restarts: 0, uptime_ms: 1500, counters: {}, ...over });

describe('renderMetrics', () => {
  it('writes the text format: every line parses, families together, each state a labelled gauge', () => {
    const text = renderMetrics({
      nodes: [
        node({ name: 'mouth', counters: { in: 3, out: 5, 'libera.sent': 7, 'libera.waiting': 2, 'libera.refused': 1, 'libera.refused_QueueFull': 1, 'libera.connects': 3, 'libera.identified': 1, 'libera.malformed': 0 } }),
        node({ name: 'ping', state: 'restarting', restarts: 4, uptime_ms: 0, counters: { in: 9, out: 9, dropped: 0, errors: 1, lost: 0 } }),
      ],
      mouthDetails: { 'libera.state': 'registered', 'libera.account': 'bot' },
      supervisor: { not_authorized: 3, vouch_refused: 0 },
      refused: { no_token: 2 },
      sseClients: 1,
    });
    const s = parseExposition(text);
    expect(s.get('hive_node_state{node="ping",state="restarting"}')).toBe(1);
    expect(s.get('hive_node_state{node="ping",state="running"}')).toBe(0);
    expect(s.get('hive_node_up{node="ping"}')).toBe(0);
    expect(s.get('hive_node_restarts_total{node="ping"}')).toBe(4);
    expect(s.get('hive_node_uptime_seconds{node="mouth"}')).toBe(1.5);
    expect(s.get('hive_node_counter_errors{node="ping"}')).toBe(1);
    expect(s.get('hive_node_counter_in{node="mouth"}')).toBe(3);
    // The mouth's network keys are the network's, not the mouth node's.
    expect([...s.keys()].some((k) => k.startsWith('hive_node_counter_libera'))).toBe(false);
    expect(s.get('hive_network_connected{network="libera"}')).toBe(1);
    expect(s.get('hive_network_registered{network="libera"}')).toBe(1);
    expect(s.get('hive_network_identified{network="libera"}')).toBe(1);
    expect(s.get('hive_network_lines_out_total{network="libera"}')).toBe(7);
    expect(s.get('hive_network_queue_depth{network="libera"}')).toBe(2);
    expect(s.get('hive_network_refused_total{network="libera"}')).toBe(1);
    expect(s.get('hive_network_refused_by_code_total{network="libera",code="QueueFull"}')).toBe(1);
    expect(s.get('hive_network_reconnects_total{network="libera"}')).toBe(2);
    expect(s.get('hive_network_counter_malformed{network="libera"}')).toBe(0);
    expect(s.get('hive_web_refused_total{reason="no_token"}')).toBe(2);
    expect(s.get('hive_web_sse_clients')).toBe(1);
    expect(s.get('hive_supervisor_not_authorized_total')).toBe(3);
    expect(s.get('hive_supervisor_vouch_refused_total')).toBe(0);
    expect(text).toMatch(/^# TYPE hive_node_restarts_total counter$/m);
  });

  it('sanitizes hostile counter names and escapes label values; two keys of one name keep the first and count the other', () => {
    const text = renderMetrics({
      nodes: [node({ name: 'evil', counters: { 'a b{c}="x"\n# TYPE': 1, '9lives': 2, 'é-ü': 3, 'x-y': 4, 'x_y': 5, '': 6 } })],
      mouthDetails: {},
      refused: { 'we"ird\\\n': 1 },
      sseClients: 0,
    });
    const s = parseExposition(text);
    expect(s.get('hive_node_counter_a_b_c___x____TYPE{node="evil"}')).toBe(1);
    expect(s.get('hive_node_counter_9lives{node="evil"}')).toBe(2);
    expect(s.get('hive_node_counter____{node="evil"}')).toBe(3);
    expect(s.get('hive_node_counter_x_y{node="evil"}')).toBe(4);
    expect(s.get('hive_node_counter_{node="evil"}')).toBe(6);
    expect(s.get('hive_metrics_skipped_total')).toBe(1);
    expect(s.get('hive_web_refused_total{reason="we\\"ird\\\\\\n"}')).toBe(1);
    expect(metricName('9x')).toBe('_9x');
    expect(text.split('\n').filter((l) => l.startsWith('# TYPE')).length).toBe(new Set(text.split('\n').filter((l) => l.startsWith('# TYPE'))).size);
  });

  it('shows a dotted counter of a node other than the mouth as its own (none dropped unsaid); the mouth\'s are its networks\'', () => {
    const s = parseExposition(renderMetrics({
      nodes: [node({ name: 'weather', counters: { 'cache.hits': 7, 'in': 1 } }), node({ name: 'mouth', counters: { 'libera.sent': 3 } })],
      mouthDetails: {},
      refused: {},
      sseClients: 0,
    }));
    expect(s.get('hive_node_counter_cache_hits{node="weather"}')).toBe(7);
    expect(s.get('hive_node_counter_in{node="weather"}')).toBe(1);
    expect(s.get('hive_network_lines_out_total{network="libera"}')).toBe(3);
    expect([...s.keys()].filter((k) => k.startsWith('hive_node_counter_') && k.includes('mouth'))).toEqual([]);
    expect(s.get('hive_metrics_skipped_total')).toBe(0);
  });

  it('the grammar check itself refuses what is not the format', () => {
    expect(() => parseExposition('# TYPE a gauge\na{b="c"} 1\n')).not.toThrow();
    expect(() => parseExposition('a 1\n')).toThrow(/before its TYPE/);
    expect(() => parseExposition('# TYPE a gauge\na{b="c} 1\n')).toThrow(/not in the text format/);
    expect(() => parseExposition('# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na 2\n')).toThrow(/not together/);
    expect(() => parseExposition('# TYPE a gauge\na 1\na 1\n')).toThrow(/twice/);
    expect(() => parseExposition('# TYPE 1a gauge\n')).toThrow(/not in the text format|neither/);
    expect(() => parseExposition('# TYPE a gauge\na one\n')).toThrow(/not in the text format/);
  });
});

describe('/metrics on a running hive', () => {
  let ircd: Ircd;
  let hive: TestHive;
  let web: { proc: ResultPromise; url: string; token: string; port: number };

  beforeAll(async () => {
    ircd = await startNgircd();
    hive = await startHive({
      networks: {
        console: { type: 'terminal', quiet_ms: 200 },
        irc: { type: 'irc', host: ircd.host, port: ircd.port, nick: 'metricbot', channels: ['#m'] },
      },
      plugins: [{ name: 'ping', use: 'ping' }, { name: 'echo', use: 'echo' }],
    });
    const proc = execa('node', [join(DIST, 'tree-supervisor/cli-web.js'), '--config', hive.configFile, '--json'], { env: hive.env, reject: false, buffer: false });
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    const line = await waitFor(() => out.split('\n').find((l) => l.startsWith('{')), { timeout: 15_000, what: () => `hive web's address (stdout ${out})` });
    web = { proc, ...(JSON.parse(line) as { url: string; token: string; port: number }) };
  }, 60_000);
  afterAll(async () => {
    web?.proc.kill('SIGTERM');
    await web?.proc;
    await hive?.stop();
    await ircd?.stop();
  });

  const scrape = async (auth: Record<string, string> = { Authorization: `Bearer ${web.token}` }, query = '') => fetch(`http://127.0.0.1:${web.port}/metrics${query}`, { headers: auth });

  it('matches hive tree --json, node by node and network by network', { timeout: 30_000 }, async () => {
    // Traffic first, so the counters are not all 0; then a quiet moment, so both views read the same.
    await waitFor(async () => (await hive.node('mouth')).counters['irc.identified'] !== undefined, { timeout: 15_000, what: 'the IRC network in the tree' });
    hive.say('!ping');
    await hive.expectOutput(/pong/);
    await waitFor(async () => (await hive.node('ping')).counters.out! >= 1, { what: 'ping to count its answer' });
    const r = await scrape();
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const s = parseExposition(await r.text());
    const nodes = await hive.tree();
    expect(nodes.length).toBe(3);
    for (const n of nodes) {
      expect(s.get(`hive_node_state{node="${n.name}",state="${n.state}"}`), n.name).toBe(1);
      expect(s.get(`hive_node_restarts_total{node="${n.name}"}`), n.name).toBe(n.restarts);
      const own = Object.entries(n.counters).filter(([k]) => !k.includes('.'));
      expect(own.length, n.name).toBeGreaterThanOrEqual(5);
      for (const [k, v] of own) expect(s.get(`hive_node_counter_${k}{node="${n.name}"}`), `${n.name}.${k}`).toBe(v);
    }
    const mouth = nodes.find((n) => n.name === 'mouth')!.counters;
    expect(s.get('hive_network_connected{network="irc"}')).toBe(1);
    expect(s.get('hive_network_registered{network="irc"}')).toBe(1);
    expect(s.get('hive_network_identified{network="irc"}')).toBe(mouth['irc.identified']);
    expect(s.get('hive_network_reconnects_total{network="irc"}')).toBe(mouth['irc.connects']! - 1);
    for (const net of ['irc', 'console']) {
      expect(s.get(`hive_network_lines_out_total{network="${net}"}`), net).toBe(mouth[`${net}.sent`]);
      expect(s.get(`hive_network_queue_depth{network="${net}"}`), net).toBe(mouth[`${net}.waiting`]);
      expect(s.get(`hive_network_refused_total{network="${net}"}`), net).toBe(mouth[`${net}.refused`]);
    }
    expect(mouth['console.sent']).toBeGreaterThanOrEqual(1);
    // The terminal network has no connection to tell about.
    expect(s.has('hive_network_connected{network="console"}')).toBe(false);
  });

  it('counts the supervisor\'s refusals: a Stop from a connection that did not authenticate shows as not_authorized', async () => {
    const info = JSON.parse(await readFile(join(hive.dir, 'run', `${hive.instance}.json`), 'utf8')) as { bus_address: string; supervisor: string };
    const stranger = await connectBus(info.bus_address);
    try {
      const refused = await callWithDeadline(stranger, { destination: info.supervisor, path: SUPERVISOR_PATH, interface: SUPERVISOR_INTERFACE, member: 'Stop', signature: 's', body: ['ping'] }, 10_000).then(() => 'ok', (e: { code?: string }) => e.code);
      expect(refused).toBe('NotAuthorized');
      const counters = (await callWithDeadline(stranger, { destination: info.supervisor, path: SUPERVISOR_PATH, interface: 'org.freedesktop.DBus.Properties', member: 'Get', signature: 'ss', body: [SUPERVISOR_INTERFACE, 'Counters'] }, 5000)).body[0] as { value: Record<string, bigint> };
      const s = parseExposition(await (await scrape()).text());
      expect(Number(counters.value.not_authorized)).toBeGreaterThanOrEqual(1);
      expect(s.get('hive_supervisor_not_authorized_total')).toBe(Number(counters.value.not_authorized));
      for (const [k, v] of Object.entries(counters.value)) expect(s.get(`hive_supervisor_${k}_total`), k).toBe(Number(v));
    } finally {
      stranger.disconnect();
    }
    expect((await hive.node('ping')).state).toBe('running');
  });

  it('takes the token as ?token= too, and refuses a scrape without it or with a wrong one, counting both', async () => {
    expect((await scrape({}, `?token=${web.token}`)).status).toBe(200);
    const none = await scrape({});
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ error: 'no_token' });
    expect((await scrape({ Authorization: 'Bearer wrong' })).status).toBe(401);
    const s = parseExposition(await (await scrape()).text());
    expect(s.get('hive_web_refused_total{reason="no_token"}')).toBeGreaterThanOrEqual(1);
    expect(s.get('hive_web_refused_total{reason="bad_token"}')).toBeGreaterThanOrEqual(1);
  });
});
