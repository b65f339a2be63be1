/**
 * Starting one node process with execa, with its environment (docs/protocol.md#environment), and
 * passing its output into the supervisor's log: pino JSON lines keep their level and fields under
 * the supervisor's logger bound to the node's name; any other line is logged as text.
 *
 * A program the OS cannot start (missing, not executable, a cwd that is gone) is a spawn error,
 * reported through `exited` (never a process that "starts" forever). Where util-linux's setpriv
 * exists, each node runs under `setpriv --pdeathsig KILL`: the kernel kills it when the
 * supervisor dies, even a kill -9 of the supervisor while the node is stopped (SIGSTOP).
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { basename, delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import type { Logger } from 'pino';
import { ENV } from '../protocol/names.js';

const DIST = fileURLToPath(new URL('..', import.meta.url));
const MOUTH_ENTRY = join(DIST, 'mouth/main.js');
const PLUGIN_RUNNER = join(DIST, 'plugins/run.js');
/** Hive's Python modules (hive_node, hive_testing): sources, not built (this module runs from dist/ or, in tests, from the sources). */
export const PYTHON_SDK = join(basename(DIST) === 'dist' ? dirname(DIST) : DIST, 'protocol/sdk/python');

/** Whether `use` names a built-in plugin of this build (its compiled entry exists). */
export function builtinPluginExists(use: string): boolean {
  return /^[A-Za-z][A-Za-z0-9_-]*$/.test(use) && existsSync(join(DIST, 'plugins', use, 'index.js'));
}

/**
 * V8's heap settings per role (issue 17). A plugin gets a 1 MB young generation instead of V8's
 * 16 MB semi-spaces: it handles a message at a time and keeps little, and V8 never shrinks a young
 * generation a burst grew. Measured on the ten-plugin hive (docs/performance.md): 25–40 MB less
 * PSS idle and ~160 MB less after the bench's bursts (a plugin that takes every message 30–40 MB
 * instead of 60–70), at no throughput cost the bench could tell from its noise (ping alone:
 * 6,608 against 6,737 replies/s, medians of 3). The mouth keeps V8's defaults: every message
 * passes through it. The size cannot be set from inside a running process (V8 reads it when the
 * heap is made), so an `exec:` TypeScript plugin passes it in its own argv.
 */
export const PLUGIN_NODE_OPTIONS: readonly string[] = ['--max-semi-space-size=1'];
export const MOUTH_NODE_OPTIONS: readonly string[] = [];

/**
 * glibc's malloc arenas for every node process (issue 17): at most 2, the main thread's and one
 * that the rest share, instead of up to 8 per core. A node's threads (V8's GC and compiler
 * workers, libuv's pool) each got an arena of their own, which keeps what a burst made it
 * allocate. Measured in the ten-plugin hive (`scripts/bench/mem-probe.ts`): the arenas of all
 * nodes 10.2 → 3.8 MB PSS idle and 22.4 → 9.2 MB after the bench's traffic, CPU per node in the
 * traffic no higher. An operator's own MALLOC_ARENA_MAX is kept.
 */
export const NODE_MALLOC_ARENA_MAX = '2';

/**
 * jemalloc for every node process where Debian's libjemalloc2 is installed (issue 17; the project
 * installs it: scripts/install-system-deps). glibc's malloc keeps what a burst made a node allocate
 * (socket reads of 8–64 KB, freed but behind a block still in use; only malloc_trim gives it back),
 * while jemalloc gives back what has been free for a second, from a background thread, also in a
 * process that is idle again. Ten-plugin hive, 12 s after the bench's traffic
 * (`scripts/bench/mem-probe.ts`, same session): 234.9 → 193.7 MB PSS (mouth 43 → 33, ping 40 →
 * 16), idle the same, CPU in the traffic no higher. The operator's own LD_PRELOAD or MALLOC_CONF
 * wins; HIVE_MALLOC=glibc keeps glibc's.
 */
export const JEMALLOC_CONF = 'narenas:1,tcache:false,background_thread:true,max_background_threads:1,dirty_decay_ms:1000,muzzy_decay_ms:0';
const JEMALLOC = ['/usr/lib/x86_64-linux-gnu/libjemalloc.so.2', '/usr/lib/aarch64-linux-gnu/libjemalloc.so.2', '/usr/lib64/libjemalloc.so.2', '/usr/lib/libjemalloc.so.2'].find((f) => existsSync(f));

/** What a node process gets for its malloc (before the operator's own environment). */
export function mallocEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = { MALLOC_ARENA_MAX: NODE_MALLOC_ARENA_MAX };
  if (JEMALLOC && env.HIVE_MALLOC !== 'glibc' && !env.LD_PRELOAD && !env.MALLOC_CONF) Object.assign(out, { LD_PRELOAD: JEMALLOC, MALLOC_CONF: JEMALLOC_CONF });
  return out;
}

/**
 * A built-in plugin's entry: its one-file bundle (scripts/bundle-plugins.ts, issue 17: ~1.3 MB PSS
 * and ~30 % of the start-up CPU less per plugin) when the build made one after the last tsc run
 * (tsc rewrites every file, so an older bundle would run older code), else the plugin runner.
 */
export function pluginEntry(use: string): string[] {
  if (/^[A-Za-z][A-Za-z0-9_-]*$/.test(use)) {
    try {
      const bundle = join(DIST, 'plugins', use, 'bundle.js');
      if (statSync(bundle).mtimeMs >= statSync(join(DIST, 'plugins', use, 'index.js')).mtimeMs) return [bundle];
    } catch { /* no bundle: the runner */ }
  }
  return [PLUGIN_RUNNER, use];
}

/** The program a node runs: the mouth (no spec), a built-in plugin (its bundle or the plugin runner), or its `exec:` argv in its cwd. */
export function nodeCommand(spec: { use?: string; exec?: string[]; cwd?: string } | undefined, configDir: string): { command: string[]; cwd?: string } {
  if (!spec) return { command: [process.execPath, ...MOUTH_NODE_OPTIONS, MOUTH_ENTRY] };
  if (spec.use) return { command: [process.execPath, ...PLUGIN_NODE_OPTIONS, ...pluginEntry(spec.use)] };
  return { command: spec.exec!, cwd: spec.cwd ?? configDir };
}

export interface NodeLaunch {
  name: string;
  command: string[];
  cwd?: string;
  env: Record<string, string>;
  /** The mouth with a terminal network reads stdin and prints on stdout. */
  terminal?: boolean;
}

export interface Exit {
  code: number | null;
  signal: string | null;
  /** The OS refused to start the program (ENOENT, EACCES, …): starting it again fails the same way. */
  spawnError?: string;
}

export interface Launched {
  proc: ResultPromise;
  pid: number;
  /** Resolves once: at the process's exit, or at once when it could not be started. */
  exited: Promise<Exit>;
}

/**
 * Why `file` cannot be run from `cwd` with this PATH, as execvp would find it; undefined when it
 * can. Checked before spawning because under setpriv the spawn itself succeeds (setpriv runs) and
 * the failure would only be an exit code.
 */
export function programProblem(file: string, cwd: string | undefined, path: string | undefined): string | undefined {
  if (cwd) {
    try {
      if (!statSync(cwd).isDirectory()) return `cwd ${cwd}: not a directory`;
    } catch (err) {
      return `cwd ${cwd}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
    }
  }
  const check = (p: string): string | undefined => {
    try {
      if (statSync(p).isDirectory()) return `${file}: is a directory (EACCES)`;
      accessSync(p, constants.X_OK);
      return undefined;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return `${file}: ${code === 'ENOENT' ? 'no such file (ENOENT)' : code === 'EACCES' ? 'not executable (EACCES)' : (code ?? (err as Error).message)}`;
    }
  };
  if (file.includes('/')) return check(isAbsolute(file) ? file : resolve(cwd ?? process.cwd(), file));
  for (const dir of (path ?? '').split(delimiter)) {
    if (dir && !check(join(isAbsolute(dir) ? dir : resolve(cwd ?? process.cwd(), dir), file))) return undefined;
  }
  return `${file}: not found on PATH (ENOENT)`;
}

/** setpriv (util-linux) if installed: looked up once. */
let setprivPath: string | null | undefined;
function setpriv(): string | null {
  if (setprivPath === undefined) {
    setprivPath = null;
    for (const dir of ['/usr/bin', '/bin', '/usr/sbin', '/sbin', ...(process.env.PATH ?? '').split(delimiter)]) {
      const p = join(dir || '.', 'setpriv');
      try { accessSync(p, constants.X_OK); setprivPath = p; break; } catch { /* next */ }
    }
  }
  return setprivPath;
}

/** setpriv's own exit codes when its execvp fails (util-linux EX_EXEC_FAILED / EX_EXEC_ENOENT). */
const SETPRIV_EXEC_FAILED = new Set([126, 127]);

const LEVELS: Record<number, 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'> = {
  10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal',
};
/** Fields a node's line cannot set: ours. `kind` among them marks the supervisor's own lines (node-logs.ts trusts their `child` only). */
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
  const sp = setpriv();
  const [file, ...args] = sp ? [sp, '--pdeathsig', 'KILL', '--', ...n.command] : n.command;
  const proc = execa(file!, args, {
    cwd: n.cwd,
    // Only the environment nodeEnv built: no stray HIVE_* of the operator's shell reaches a node.
    env: { ...mallocEnv(), ...n.env, HIVE_LOG_FORMAT: 'json' },
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
  // setpriv's complaint when it could not exec the program (a race with programProblem's check,
  // or a script whose interpreter is missing).
  let execFailure: string | undefined;
  createInterface({ input: proc.stderr! }).on('line', (l) => {
    if (sp && l.startsWith('setpriv: ')) { execFailure = l.slice('setpriv: '.length).slice(0, 500); return; }
    forward(nodeLog, l, 'stderr');
  });
  if (!n.terminal) createInterface({ input: proc.stdout! }).on('line', (l) => forward(nodeLog, l, 'stdout'));
  const exited = new Promise<Exit>((resolve) => {
    proc.on('exit', (code, signal) => {
      // stderr may still hold setpriv's line: read it after the stream ended.
      if (sp && code !== null && SETPRIV_EXEC_FAILED.has(code)) {
        proc.stderr!.once('close', () => resolve({ code, signal, ...(execFailure && { spawnError: execFailure }) }));
        setTimeout(() => resolve({ code, signal, ...(execFailure && { spawnError: execFailure }) }), 500).unref();
        return;
      }
      resolve({ code, signal });
    });
    // A spawn that failed: Node emits 'error' and may never emit 'exit'.
    proc.on('error', (err) => {
      if (proc.pid === undefined) resolve({ code: null, signal: null, spawnError: `${n.command[0]}: ${(err as NodeJS.ErrnoException).code ?? err.message}` });
    });
  });
  // execa also rejects the promise itself; reject: false turns that into a result, never an unhandled rejection.
  proc.on('error', (err) => nodeLog.error({ err }, 'node process error'));
  return { proc, pid: proc.pid ?? -1, exited };
}

export function nodeEnv(o: {
  bus: string; instance: string; name: string; parent: string; token: string; stateDir: string; config: unknown; commandPrefix: string; logLevel?: string;
  /** No node of the config has this one as parent (HIVE_LEAF): a filter may take its own routes only. */
  leaf?: boolean;
}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('HIVE_')) env[k] = v;
  Object.assign(env, {
    [ENV.busAddress]: o.bus,
    DBUS_SESSION_BUS_ADDRESS: o.bus,
    [ENV.instance]: o.instance,
    [ENV.node]: o.name,
    [ENV.parent]: o.parent,
    // The node's own credential; HIVE_VOUCH: it checks its children's with the supervisor (Supervisor1.Vouch).
    [ENV.token]: o.token,
    [ENV.vouch]: '1',
    [ENV.stateDir]: o.stateDir,
    [ENV.config]: JSON.stringify(o.config ?? {}),
    HIVE_COMMAND_PREFIX: o.commandPrefix,
    // A Python node imports Hive's SDK (hive_node) from here, first: no copy to drift from the protocol.
    PYTHONPATH: [PYTHON_SDK, ...(process.env.PYTHONPATH ?? '').split(delimiter).filter(Boolean)].join(delimiter),
  });
  if (o.logLevel) env[ENV.logLevel] = o.logLevel;
  if (o.leaf) env[ENV.leaf] = '1';
  // The config comes out of the supervisor's check (config-checker.ts): the mouth need not check it again.
  env[ENV.configChecked] = '1';
  // The operator's choice for every node (docs/protocol.md#environment), the one HIVE_ variable passed on.
  if (process.env.HIVE_READ_DELAY_MS !== undefined) env.HIVE_READ_DELAY_MS = process.env.HIVE_READ_DELAY_MS;
  return env;
}
