/** Starting `hive up --config` for the benchmark, with its log lines parsed. */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { stringify } from 'yaml';
import { fetchTree } from '../../tree-supervisor/cli-client.js';
import type { RuntimeInfo } from '../../tree-supervisor/runtime-file.js';

export const REPO = fileURLToPath(new URL('../../..', import.meta.url));
export const DIST = join(REPO, 'dist');
const HIVE = join(REPO, 'bin/hive');

export interface BenchHive {
  proc: ResultPromise;
  dir: string;
  instance: string;
  logs: Record<string, unknown>[];
  startedAt: number;
  env: Record<string, string>;
  waitLog(pred: (l: Record<string, unknown>) => boolean, timeoutMs?: number, since?: number): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

let n = 0;

export async function startBenchHive(config: Record<string, unknown>): Promise<BenchHive> {
  const dir = await mkdtemp(join(tmpdir(), 'hive-bench-'));
  const instance = `bench${process.pid}_${++n}`;
  const file = join(dir, 'hive.yaml');
  await writeFile(file, stringify({ instance, bus: 'private', state_dir: join(dir, 'state'), ...config }));
  const env = { HIVE_RUNTIME_DIR: join(dir, 'run'), HIVE_LOG_FORMAT: 'json' };
  const startedAt = performance.timeOrigin + performance.now();
  const proc = execa(HIVE, ['up', '--config', file], { env, stdin: 'ignore', stdout: 'ignore', stderr: 'pipe', reject: false, buffer: false, cleanup: true });
  const logs: Record<string, unknown>[] = [];
  let buf = '';
  proc.stderr!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl;
    while ((nl = buf.indexOf('\n')) !== -1) {
      try { logs.push(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>); } catch { /* not JSON */ }
      buf = buf.slice(nl + 1);
    }
  });
  const waitLog = async (pred: (l: Record<string, unknown>) => boolean, timeoutMs = 20_000, since = 0) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = logs.slice(since).find(pred);
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`log line not seen within ${timeoutMs} ms; last: ${logs.slice(-3).map((l) => JSON.stringify(l)).join(' | ')}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  return {
    proc, dir, instance, logs, startedAt, env, waitLog,
    async stop() {
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await proc;
      clearTimeout(t);
    },
  };
}

export async function runtimeInfo(h: BenchHive): Promise<RuntimeInfo> {
  return JSON.parse(await readFile(join(h.dir, 'run', `${h.instance}.json`), 'utf8')) as RuntimeInfo;
}
/** The pid of each node of the tree, by node name, as the supervisor reports it. */
export async function treePids(h: BenchHive): Promise<Map<string, number>> {
  const t = await fetchTree(await runtimeInfo(h));
  return new Map(t.nodes.filter((n) => n.pid).map((n) => [n.name, n.pid!]));
}
/** `hive load|unload …` against a bench hive; throws with its stderr if it fails. */
export async function hiveCli(h: BenchHive, args: string[]): Promise<void> {
  const r = await execa(HIVE, [...args, '--instance', h.instance], { env: h.env, reject: false });
  if (r.exitCode !== 0) throw new Error(`hive ${args.join(' ')} failed: ${String(r.stderr)}`);
}
