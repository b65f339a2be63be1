/**
 * Starting one node process with execa, with its environment (docs/protocol.md#environment), and
 * passing its output into the supervisor's log: pino JSON lines keep their level and fields under
 * the supervisor's logger bound to the node's name; any other line is logged as text.
 */
import { createInterface } from 'node:readline';
import { execa, type ResultPromise } from 'execa';
import type { Logger } from 'pino';
import { ENV } from '../protocol/names.js';

export interface NodeLaunch {
  name: string;
  command: string[];
  cwd?: string;
  env: Record<string, string>;
  /** The mouth with a terminal network reads stdin and prints on stdout. */
  terminal?: boolean;
}

export interface Launched {
  proc: ResultPromise;
  pid: number;
  exited: Promise<{ code: number | null; signal: string | null }>;
}

const LEVELS: Record<number, 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'> = {
  10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal',
};
const OWN_FIELDS = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'node', 'kind']);

function forward(log: Logger, line: string, stream: 'stdout' | 'stderr'): void {
  if (line.startsWith('{')) {
    try {
      const obj = JSON.parse(line) as Record<string, unknown>;
      if (typeof obj.level === 'number' && typeof obj.msg === 'string') {
        const fields: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(obj)) if (!OWN_FIELDS.has(k)) fields[k] = v;
        log[LEVELS[obj.level] ?? 'info'](fields, obj.msg);
        return;
      }
    } catch { /* not JSON: log as text */ }
  }
  if (line.trim()) log.info({ stream, text: line }, 'node output');
}

export function launchNode(n: NodeLaunch, log: Logger): Launched {
  const [file, ...args] = n.command;
  const proc = execa(file!, args, {
    cwd: n.cwd,
    // Only the environment nodeEnv built: no stray HIVE_* of the operator's shell reaches a node.
    env: { ...n.env, HIVE_LOG_FORMAT: 'json' },
    extendEnv: false,
    stdin: n.terminal ? 'pipe' : 'ignore',
    stdout: n.terminal ? 'inherit' : 'pipe',
    stderr: 'pipe',
    reject: false,
    buffer: false,
    cleanup: true,
    // A plugin must not take the supervisor's terminal signals (Ctrl-C) itself: the supervisor stops leaves first.
    detached: true,
  });
  const nodeLog = log.child({ node: n.name });
  createInterface({ input: proc.stderr! }).on('line', (l) => forward(nodeLog, l, 'stderr'));
  if (!n.terminal) createInterface({ input: proc.stdout! }).on('line', (l) => forward(nodeLog, l, 'stdout'));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    proc.on('exit', (code, signal) => resolve({ code, signal }));
  });
  proc.on('error', (err) => nodeLog.error({ err }, 'node process error'));
  return { proc, pid: proc.pid ?? -1, exited };
}

export function nodeEnv(o: {
  bus: string; instance: string; name: string; parent: string; token: string; stateDir: string; config: unknown; commandPrefix: string; logLevel?: string;
}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('HIVE_')) env[k] = v;
  Object.assign(env, {
    [ENV.busAddress]: o.bus,
    DBUS_SESSION_BUS_ADDRESS: o.bus,
    [ENV.instance]: o.instance,
    [ENV.node]: o.name,
    [ENV.parent]: o.parent,
    [ENV.token]: o.token,
    [ENV.stateDir]: o.stateDir,
    [ENV.config]: JSON.stringify(o.config ?? {}),
    HIVE_COMMAND_PREFIX: o.commandPrefix,
  });
  if (o.logLevel) env[ENV.logLevel] = o.logLevel;
  return env;
}
