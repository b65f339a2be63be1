/**
 * Running a whole hive for a test: `hive up --config` with a generated YAML config in a temp dir,
 * its own instance name and runtime dir (so test files can run in parallel), stdin and stdout
 * piped so a test can talk to the terminal network, and the `hive` CLI pointed at it.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { onTestFailed } from 'vitest';
import { stringify } from 'yaml';
import { ROOT } from './paths.js';
import { waitFor } from './wait.js';

export const HIVE_BIN = join(ROOT, 'bin/hive');

export interface TreeNodeJson {
  name: string; kind: string; pid: number | null; parent: string | null; configured_parent: string | null;
  state: string; restarts: number; unique_name: string | null; counters: Record<string, number>;
}

export interface TestHive {
  dir: string;
  instance: string;
  configFile: string;
  env: Record<string, string>;
  proc: ResultPromise;
  stdout: string[];
  logs: Record<string, unknown>[];
  exited: Promise<number | null>;
  /** Types a line into the terminal network. */
  say(text: string): void;
  /** Waits for a line on the terminal's stdout (after index `since`). */
  expectOutput(match: string | RegExp, opts?: { since?: number; timeout?: number }): Promise<string>;
  cli(...args: string[]): Promise<{ exitCode: number | undefined; stdout: string; stderr: string }>;
  tree(): Promise<TreeNodeJson[]>;
  node(name: string): Promise<TreeNodeJson>;
  waitForLog(pred: (l: Record<string, unknown>) => boolean, timeout?: number): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

let counter = 0;

export async function startHive(config: Record<string, unknown>, opts: { waitReady?: boolean } = {}): Promise<TestHive> {
  const dir = await mkdtemp(join(tmpdir(), 'hive-test-'));
  const instance = `t${process.pid}_${++counter}`;
  const configFile = join(dir, 'hive.yaml');
  await writeFile(configFile, stringify({ instance, bus: 'private', state_dir: join(dir, 'state'), log_level: 'debug', ...config }));
  const env = { HIVE_RUNTIME_DIR: join(dir, 'run'), HIVE_LOG_FORMAT: 'json' };
  const proc = execa(HIVE_BIN, ['up', '--config', configFile], { env, stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', reject: false, buffer: false, cleanup: true });
  const stdout: string[] = [];
  const logs: Record<string, unknown>[] = [];
  const lines = (stream: NodeJS.ReadableStream, each: (l: string) => void) => {
    let buf = '';
    stream.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) !== -1) { each(buf.slice(0, nl)); buf = buf.slice(nl + 1); }
    });
  };
  lines(proc.stdout!, (l) => stdout.push(l));
  lines(proc.stderr!, (l) => { try { logs.push(JSON.parse(l) as Record<string, unknown>); } catch { logs.push({ msg: l }); } });
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  const cli = async (...args: string[]) => {
    const r = await execa(HIVE_BIN, args, { env, reject: false, timeout: 60_000 });
    return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
  };
  const tree = async () => {
    const r = await cli('tree', '--json', '--config', configFile);
    if (r.exitCode !== 0) throw new Error(`hive tree failed (${r.exitCode}): ${r.stderr}`);
    return (JSON.parse(r.stdout) as { nodes: TreeNodeJson[] }).nodes;
  };
  const hive: TestHive = {
    dir, instance, configFile, env, proc, stdout, logs, exited,
    say: (text) => { proc.stdin!.write(text + '\n'); },
    expectOutput: (match, { since = 0, timeout = 10_000 } = {}) => waitFor(() => stdout.slice(since).find((l) => (typeof match === 'string' ? l === match : match.test(l))), { timeout, what: `output ${String(match)} (got: ${stdout.slice(since).join(' | ')})` }),
    cli,
    tree,
    node: async (name) => {
      const n = (await tree()).find((x) => x.name === name);
      if (!n) throw new Error(`no node ${name} in the tree`);
      return n;
    },
    waitForLog: (pred, timeout = 10_000) => waitFor(() => logs.find(pred), { timeout, what: 'a log line' }),
    async stop() {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(t);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
  // A test that fails shows what the hive said at info and above (its last 80 lines), since a
  // failure seen once in a loaded CI run may not come again: the log is all there is to read.
  try {
    onTestFailed(() => {
      const shown = logs.filter((l) => typeof l.level !== 'number' || l.level >= 30).slice(-80);
      const text = shown.map((l) => {
        const { level: _l, time, node, msg, pid: _p, hostname: _h, ...rest } = l;
        const t = typeof time === 'number' ? new Date(time).toISOString().slice(11, 23) : '';
        return `${t} ${String(node ?? '?')} ${String(msg)} ${Object.keys(rest).length ? JSON.stringify(rest) : ''}`;
      });
      process.stderr.write(`--- hive ${instance}: its last ${shown.length} log lines at info and above ---\n${text.join('\n')}\n---\n`);
    });
  } catch {
    // Started outside a test (beforeAll): nothing to attach to.
  }
  if (opts.waitReady !== false) {
    await waitFor(() => logs.find((l) => l.msg === 'tree ready') ?? (proc.exitCode !== null ? Promise.reject(new Error(`hive exited ${proc.exitCode}: ${logs.slice(-5).map((l) => JSON.stringify(l)).join('\n')}`)) : undefined), { timeout: 30_000, what: 'tree ready' });
  }
  return hive;
}

/** Whether a process with that pid runs (a zombie waiting for a reaper does not). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/**
 * Starts `hive tap` on `hive` with `args` and resolves once it is watching (it says so on stderr).
 * In an object: the process is itself a promise, which an async function would wait for.
 */
export async function startTap(hive: TestHive, ...args: string[]): Promise<{ proc: ResultPromise }> {
  const tap = execa(HIVE_BIN, ['tap', ...args, '--config', hive.configFile], { env: hive.env, reject: false, timeout: 30_000 });
  let err = '';
  tap.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  try {
    await waitFor(() => err.includes('hive tap: watching'), { timeout: 15_000, interval: 20, what: () => `hive tap to be watching (stderr: ${err})` });
  } catch (e) {
    tap.kill();
    throw e;
  }
  return { proc: tap };
}
