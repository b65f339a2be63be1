/**
 * Starting real node processes for tests with execa, and stopping every one of them afterwards.
 * Each process's pino log lines are kept (parsed) so a test can wait for what a node said.
 */
import { PYTHON_SDK } from '../../tree-supervisor/node-process.js';
import { execa, type ResultPromise } from 'execa';
import { ENV } from '../../protocol/names.js';
import { waitFor } from './wait.js';

export interface NodeProcess {
  name: string;
  proc: ResultPromise;
  logs: Record<string, unknown>[];
  stderr: string[];
  stdout: string[];
  waitForLog(msg: string | ((l: Record<string, unknown>) => boolean), timeout?: number): Promise<Record<string, unknown>>;
  kill(signal?: NodeJS.Signals): void;
  exited: Promise<number | null>;
}

const running = new Set<NodeProcess>();

export interface SpawnOptions {
  name: string;
  command: string[];
  bus: string;
  parent?: string;
  token?: string;
  instance?: string;
  config?: Record<string, unknown>;
  env?: Record<string, string>;
  stdin?: 'pipe' | 'ignore';
}

export const TEST_TOKEN = 'test-token';
export const TEST_INSTANCE = 'test';

export function spawnNode(o: SpawnOptions): NodeProcess {
  const [file, ...args] = o.command;
  const proc = execa(file!, args, {
    env: {
      [ENV.busAddress]: o.bus,
      [ENV.node]: o.name,
      [ENV.parent]: o.parent ?? '',
      [ENV.token]: o.token ?? TEST_TOKEN,
      [ENV.instance]: o.instance ?? TEST_INSTANCE,
      [ENV.config]: JSON.stringify(o.config ?? {}),
      HIVE_LOG_FORMAT: 'json',
      HIVE_LOG_LEVEL: 'debug',
      // As the supervisor does: a Python node imports Hive's SDK from there.
      PYTHONPATH: PYTHON_SDK,
      ...o.env,
    },
    stdin: o.stdin ?? 'ignore',
    reject: false,
    buffer: false,
    cleanup: true,
  });
  const logs: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  const stdout: string[] = [];
  let errBuf = '', outBuf = '';
  proc.stderr!.on('data', (d: Buffer) => {
    errBuf += d.toString();
    let nl;
    while ((nl = errBuf.indexOf('\n')) !== -1) {
      const l = errBuf.slice(0, nl);
      errBuf = errBuf.slice(nl + 1);
      stderr.push(l);
      try { logs.push(JSON.parse(l) as Record<string, unknown>); } catch { /* not a log line */ }
    }
  });
  proc.stdout!.on('data', (d: Buffer) => {
    outBuf += d.toString();
    let nl;
    while ((nl = outBuf.indexOf('\n')) !== -1) { stdout.push(outBuf.slice(0, nl)); outBuf = outBuf.slice(nl + 1); }
  });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const np: NodeProcess = {
    name: o.name,
    proc,
    logs,
    stderr,
    stdout,
    exited,
    waitForLog(msg, timeout = 10_000) {
      const pred = typeof msg === 'string' ? (l: Record<string, unknown>) => l.msg === msg : msg;
      return waitFor(() => logs.find(pred), { timeout, what: `log '${String(typeof msg === 'string' ? msg : 'predicate')}' from ${o.name} (stderr: ${stderr.slice(-5).join(' | ')})` });
    },
    kill(signal = 'SIGTERM') { proc.kill(signal); },
  };
  running.add(np);
  void exited.then(() => running.delete(np));
  return np;
}

/** Stops every node process a test started (SIGKILL after a grace period). */
export async function stopAllNodes(graceMs = 3000): Promise<void> {
  const all = [...running];
  for (const n of all) n.kill('SIGTERM');
  await Promise.all(all.map(async (n) => {
    const t = setTimeout(() => n.kill('SIGKILL'), graceMs);
    await n.exited;
    clearTimeout(t);
  }));
}
