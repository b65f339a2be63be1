/**
 * The hive's figures in the Prometheus text format (version 0.0.4, which OpenMetrics scrapers
 * read too), from the supervisor's Tree and the mouth's Details. Pure: no I/O.
 *
 * Per node: `hive_node_state{node,state}` (1 for the state it is in, 0 for the others),
 * `hive_node_up`, `hive_node_restarts_total`, `hive_node_uptime_seconds`, `hive_node_misplaced`,
 * and each of its counters as `hive_node_counter_<key>` (in, out, dropped, errors, lost and the
 * node's own). Per network (the mouth's counters `<network>.<key>` and Details `<network>.state`):
 * `hive_network_connected`, `_registered`, `_identified`, `_lines_out_total`, `_queue_depth`,
 * `_refused_total`, `_refused_by_code_total{code}`, `_reconnects_total`, and every other key as
 * `hive_network_counter_<key>`. The supervisor's own refusals (its Counters: not_authorized,
 * vouch_refused, parent_refused, impostor) are `hive_supervisor_<key>_total`. Names are sanitized to `[a-zA-Z_:][a-zA-Z0-9_:]*`, label values escaped.
 */

export const NODE_STATES = ['starting', 'running', 'restarting', 'held', 'failed', 'stopped'] as const;

export interface MetricsNode {
  name: string;
  state: string;
  restarts: number;
  uptime_ms: number;
  misplaced?: boolean;
  counters: Record<string, number>;
}

export interface MetricsInput {
  nodes: MetricsNode[];
  /** The mouth's Details (`<network>.state`: registered, connecting or down); {} when unknown. */
  mouthDetails: Record<string, unknown>;
  /** Supervisor1's Counters; {} when unknown. */
  supervisor?: Record<string, number>;
  /** The web view's own refusals by reason. */
  refused: Record<string, number>;
  sseClients: number;
}

/** A metric or label name in the Prometheus grammar: anything else becomes `_`, a leading digit gets `_`. */
export function metricName(raw: string): string {
  const s = namePart(raw);
  return /^[a-zA-Z_]/.test(s) ? s : `_${s}`;
}

/** The end of a name after our prefix: a digit may lead. */
function namePart(raw: string): string {
  return raw.replace(/[^a-zA-Z0-9_]/g, '_');
}

/** A label value as the text format quotes it: backslash, double quote and line feed escaped. */
export function labelValue(raw: string): string {
  return raw.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** Families in order of first use, each with its samples: a family's lines stay together, as the format asks. */
class Families {
  private readonly families = new Map<string, { type: string; help: string; samples: Map<string, string> }>();

  add(name: string, type: 'gauge' | 'counter' | 'untyped', help: string, labels: Record<string, string>, value: number): boolean {
    let f = this.families.get(name);
    if (!f) { f = { type, help, samples: new Map() }; this.families.set(name, f); }
    const l = Object.entries(labels).map(([k, v]) => `${metricName(k)}="${labelValue(v)}"`).join(',');
    const series = l ? `${name}{${l}}` : name;
    // Two keys that sanitize to one name: the first is kept (the caller counts the other).
    if (f.samples.has(series)) return false;
    f.samples.set(series, `${series} ${num(value)}`);
    return true;
  }

  text(): string {
    let out = '';
    for (const [name, f] of this.families) {
      out += `# HELP ${name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${name} ${f.type}\n`;
      for (const line of f.samples.values()) out += `${line}\n`;
    }
    return out;
  }
}

/** The mouth's network keys we name ourselves; the rest are `hive_network_counter_<key>`. */
const NETWORK_KEYS: Record<string, { name: string; type: 'gauge' | 'counter'; help: string }> = {
  identified: { name: 'hive_network_identified', type: 'gauge', help: '1 when the bot is logged in to services on the network.' },
  sent: { name: 'hive_network_lines_out_total', type: 'counter', help: 'Lines the mouth sent to the network.' },
  lines_in: { name: 'hive_network_lines_in_total', type: 'counter', help: 'Lines the mouth read from the network.' },
  waiting: { name: 'hive_network_queue_depth', type: 'gauge', help: 'Messages waiting in the network\'s send queue.' },
  refused: { name: 'hive_network_refused_total', type: 'counter', help: 'Messages from plugins the mouth refused to send (all reasons).' },
};

export function renderMetrics(input: MetricsInput): string {
  const f = new Families();
  let skipped = 0;
  for (const n of input.nodes) {
    const node = { node: n.name };
    for (const s of NODE_STATES) f.add('hive_node_state', 'gauge', 'The node\'s state: 1 for the one it is in.', { ...node, state: s }, n.state === s ? 1 : 0);
    // A state this view does not know yet still shows, rather than being lost.
    if (!(NODE_STATES as readonly string[]).includes(n.state)) f.add('hive_node_state', 'gauge', 'The node\'s state: 1 for the one it is in.', { ...node, state: n.state }, 1);
  }
  for (const n of input.nodes) f.add('hive_node_up', 'gauge', '1 when the node is running.', { node: n.name }, n.state === 'running' ? 1 : 0);
  for (const n of input.nodes) f.add('hive_node_restarts_total', 'counter', 'Times the supervisor restarted the node.', { node: n.name }, n.restarts);
  for (const n of input.nodes) f.add('hive_node_uptime_seconds', 'gauge', 'Seconds since the node\'s bus name got its current owner (0 unless running).', { node: n.name }, n.uptime_ms / 1000);
  for (const n of input.nodes) f.add('hive_node_misplaced', 'gauge', '1 when the node runs but is not attached where it should be.', { node: n.name }, n.misplaced ? 1 : 0);
  for (const n of input.nodes) {
    for (const [key, v] of Object.entries(n.counters)) {
      // The mouth's `<network>.<key>` are its networks' (below); any other node's dotted counter is its own.
      if (n.name === 'mouth' && key.includes('.')) continue;
      if (!f.add(`hive_node_counter_${namePart(key)}`, 'untyped', `The node's counter ${JSON.stringify(key)} (docs/protocol.md#properties).`, { node: n.name }, v)) skipped++;
    }
  }
  const mouth = input.nodes.find((n) => n.name === 'mouth');
  const byNetwork = new Map<string, Record<string, number>>();
  for (const [key, v] of Object.entries(mouth?.counters ?? {})) {
    const dot = key.indexOf('.');
    if (dot <= 0) continue;
    const net = key.slice(0, dot);
    if (!byNetwork.has(net)) byNetwork.set(net, {});
    byNetwork.get(net)![key.slice(dot + 1)] = v;
  }
  for (const [net, c] of byNetwork) {
    const state = input.mouthDetails[`${net}.state`];
    // Only IRC networks tell their connection state; a terminal or scripted one is always there.
    if (typeof state === 'string') {
      f.add('hive_network_connected', 'gauge', '1 while the mouth has a connection to the network (registered or registering).', { network: net }, state === 'down' ? 0 : 1);
      f.add('hive_network_registered', 'gauge', '1 while the mouth is registered on the network.', { network: net }, state === 'registered' ? 1 : 0);
    }
    if (c.connects !== undefined) f.add('hive_network_reconnects_total', 'counter', 'Connections after the first (connection attempts - 1).', { network: net }, Math.max(0, c.connects - 1));
    for (const [key, v] of Object.entries(c)) {
      const known = NETWORK_KEYS[key];
      if (known) { f.add(known.name, known.type, known.help, { network: net }, v); continue; }
      if (key.startsWith('refused_')) { f.add('hive_network_refused_by_code_total', 'counter', 'Messages the mouth refused to send, by the error it answered.', { network: net, code: key.slice('refused_'.length) }, v); continue; }
      if (!f.add(`hive_network_counter_${namePart(key)}`, 'untyped', `The mouth's counter <network>.${key}.`, { network: net }, v)) skipped++;
    }
  }
  for (const [key, v] of Object.entries(input.supervisor ?? {})) {
    if (!f.add(`hive_supervisor_${namePart(key)}_total`, 'counter', `The supervisor's counter ${JSON.stringify(key)} (docs/security.md).`, {}, v)) skipped++;
  }
  for (const [reason, v] of Object.entries(input.refused)) f.add('hive_web_refused_total', 'counter', 'Requests the web view refused, by reason.', { reason }, v);
  f.add('hive_web_sse_clients', 'gauge', 'Pages connected for live updates now.', {}, input.sseClients);
  f.add('hive_metrics_skipped_total', 'counter', 'Counters left out because their sanitized name was taken by another.', {}, skipped);
  return f.text();
}
