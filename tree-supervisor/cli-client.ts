/**
 * The `hive` subcommands that talk to a running hive's supervisor over org.hive.Supervisor1. A
 * call that changes the hive is made after Authenticate with the runtime file's credential, on
 * the same connection (docs/security.md).
 */
import { readFile } from 'node:fs/promises';
import { stringify as toYaml } from 'yaml';
import { SUPERVISOR_INTERFACE, SUPERVISOR_PATH } from '../protocol/names.js';
import { HiveError } from '../protocol/errors.js';
import { callWithDeadline, connectBus, type MessageBus } from '../protocol/sdk/bus.js';
import { instanceOfConfig } from './read-config.js';
import { EXIT_CODES } from './exit-codes.js';
import { CliError } from './cli-error.js';
import { readRuntimeInfo, type RuntimeInfo } from './runtime-file.js';

export { CliError };

export async function findHive(opts: { config?: string; instance?: string }): Promise<RuntimeInfo> {
  let instance = opts.instance ?? 'default';
  if (opts.config) instance = instanceOfConfig(opts.config);
  const info = await readRuntimeInfo(instance);
  if (!info) throw new CliError(`no running hive '${instance}' (start one with \`hive up\`)`, EXIT_CODES.notRunning);
  return info;
}

/** The members only the operator may call: the connection authenticates before the first of them. */
const OPERATOR_ONLY = new Set(['Start', 'Stop', 'Restart', 'Load', 'Unload', 'Shutdown', 'RemoteAccess', 'Logs', 'Reload']);

export async function withSupervisor<T>(info: RuntimeInfo, fn: (call: (member: string, signature?: string, body?: unknown[], timeoutMs?: number) => Promise<unknown[]>, bus: MessageBus) => Promise<T>): Promise<T> {
  const bus = await connectBus(info.bus_address);
  let authenticated = false;
  try {
    return await fn(async (member, signature = '', body = [], timeoutMs = 30_000) => {
      if (OPERATOR_ONLY.has(member) && !authenticated) {
        await callWithDeadline(bus, { destination: info.supervisor, path: SUPERVISOR_PATH, interface: SUPERVISOR_INTERFACE, member: 'Authenticate', signature: 's', body: [info.token] }, timeoutMs)
          .catch((err: unknown) => { throw new CliError(`the hive refused this runtime file's credential: ${(err as Error).message}`, EXIT_CODES.refused); });
        authenticated = true;
      }
      try {
        const reply = await callWithDeadline(bus, { destination: info.supervisor, path: SUPERVISOR_PATH, interface: SUPERVISOR_INTERFACE, member, signature, body }, timeoutMs);
        return reply.body;
      } catch (err) {
        if (err instanceof HiveError && err.code !== 'Timeout' && err.code !== 'Failed') throw new CliError(err.message, EXIT_CODES.refused);
        throw err;
      }
    }, bus);
  } finally {
    bus.disconnect();
  }
}

export interface TreeNodeInfo {
  name: string; kind: string; run?: string; trust?: string; pid: number | null; remote?: boolean; bus_name: string; unique_name: string | null; parent: string | null;
  configured_parent: string | null; state: string; restarts: number; uptime_ms: number; counters: Record<string, number>;
  /** Running, but not listed in its parent's Children (the supervisor puts it back, or restarts it). */
  misplaced?: boolean;
  misplacements?: number;
  /** Why it failed: the OS error of a spawn, an exit 2, too many restarts. */
  error?: string | null;
}

/** The STATE column: `misplaced` stands for a running node that is not attached where it should be. */
function stateText(n: TreeNodeInfo): string {
  return n.misplaced ? 'misplaced' : n.state;
}

export async function fetchTree(info: RuntimeInfo): Promise<{ instance: string; nodes: TreeNodeInfo[] }> {
  return withSupervisor(info, async (call) => JSON.parse((await call('Tree'))[0] as string));
}

function formatUptime(ms: number): string {
  if (!ms) return '-';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

/** A remote node's process runs elsewhere: no pid of ours to show. */
function pidText(n: TreeNodeInfo): string {
  return n.remote ? 'remote' : String(n.pid ?? '-');
}

/** The tree as an indented table, children under their current parent. */
export function renderTree(tree: { nodes: TreeNodeInfo[] }): string {
  const byParent = new Map<string | null, TreeNodeInfo[]>();
  for (const n of tree.nodes) {
    const p = n.name === 'mouth' ? null : n.parent;
    if (!byParent.has(p)) byParent.set(p, []);
    byParent.get(p)!.push(n);
  }
  const rows: string[][] = [['NODE', 'KIND', 'STATE', 'PID', 'TRUST', 'RESTARTS', 'UPTIME', 'IN', 'OUT', 'DROPPED', 'ERRORS']];
  const seen = new Set<string>();
  const walk = (parent: string | null, depth: number) => {
    for (const n of byParent.get(parent) ?? []) {
      if (seen.has(n.name)) continue;
      seen.add(n.name);
      const moved = n.configured_parent && n.parent !== n.configured_parent ? ` (configured under ${n.configured_parent})` : '';
      const c = n.counters;
      rows.push([`${'  '.repeat(depth)}${n.name}${moved}`, n.kind, stateText(n), pidText(n), n.trust ?? '-', String(n.restarts), formatUptime(n.uptime_ms), String(c.in ?? '-'), String(c.out ?? '-'), String(c.dropped ?? '-'), String(c.errors ?? '-')]);
      walk(n.name, depth + 1);
    }
  };
  walk(null, 0);
  for (const n of tree.nodes) if (!seen.has(n.name)) rows.push([`${n.name} (detached)`, n.kind, stateText(n), pidText(n), n.trust ?? '-', String(n.restarts), formatUptime(n.uptime_ms), '-', '-', '-', '-']);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const table = rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
  // The reasons go below the table: an OS error is too long for a column.
  const errors = tree.nodes.filter((n) => n.error).map((n) => `${n.name}: ${n.error}\n`).join('');
  const out = errors ? `${table}\n${errors}` : table;
  const nets = networkLines(tree.nodes.find((n) => n.name === 'mouth'));
  return nets ? `${out}\n${nets}` : out;
}

/** The mouth's per-network counters (`<network>.malformed`, …), one line per IRC network. */
function networkLines(mouth: TreeNodeInfo | undefined): string {
  const c = mouth?.counters ?? {};
  const names = Object.keys(c).filter((k) => k.endsWith('.malformed')).map((k) => k.slice(0, -'.malformed'.length));
  return names.map((n) => `network ${n}: identified ${c[`${n}.identified`] ? 'yes' : 'no'}, malformed lines ${c[`${n}.malformed`]}, connects ${c[`${n}.connects`] ?? '-'}, dropped for bad input ${c[`${n}.hostile_drops`] ?? '-'}\n`).join('');
}

export async function loadSpec(args: { file?: string; name?: string; use?: string; exec?: string; parent?: string; on_death?: string; config?: string }): Promise<string> {
  if (args.file) return args.file === '-' ? readStdin() : readFile(args.file, 'utf8');
  if (!args.name) throw new CliError('hive load: give a YAML file (or - for stdin), or --name with --use or --exec', EXIT_CODES.usage);
  const spec: Record<string, unknown> = { name: args.name };
  if (args.use) spec.use = args.use;
  if (args.exec) spec.exec = args.exec.split(/\s+/).filter(Boolean);
  if (args.parent) spec.parent = args.parent;
  if (args.on_death) spec.on_death = args.on_death;
  if (args.config) {
    try { spec.config = JSON.parse(args.config); } catch { throw new CliError(`hive load: --plugin-config must be JSON; got ${JSON.stringify(args.config.slice(0, 60))}`, EXIT_CODES.usage); }
  }
  return toYaml(spec);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
