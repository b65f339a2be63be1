/**
 * hive/testing: a real hive for a plugin's tests. `testHive({ plugins })` runs `hive up` (this
 * package's) with a generated config in a temp dir: a private bus, the mouth with one scripted
 * network (mouth/script-network.ts) and the plugins as real processes; it talks to the network's
 * socket to speak as any user and to read every line the bot sends, with its metadata.
 *
 *   const hive = await testHive({ plugins: [{ name: 'dice', exec: ['node', 'dice.js'] }] });
 *   const r = await hive.say('!roll d6');      // the first reply to that line
 *   await hive.kill('dice');                   // kill -9; the supervisor starts it again
 *   await hive.close();                        // everything gone, the temp dir too
 *
 * Teardown cannot be forgotten: `hive up` runs under a small sh watchdog that reads a pipe from
 * this process and stops the hive when it ends, which it does when this process dies in any way
 * (kill -9 too); a process exit also kills a hive not closed yet and removes its temp dir.
 * protocol/sdk/python/hive_testing.py is the same for Python, and docs/writing-plugins.md shows both.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { runtimeInfoSchema, type RuntimeInfo } from './runtime-file.js';
import { fetchTree, withSupervisor, type TreeNodeInfo } from './cli-client.js';
import type { ScriptSent } from '../mouth/network-config.js';

/** A plugin as in hive.yaml's `plugins:` (docs/config.md): `use:` a built-in, `exec:` a program or `dir:` a plugin folder (relative to the test's `cwd`). */
export interface TestPluginSpec {
  name: string;
  use?: string;
  exec?: string[];
  config?: Record<string, unknown>;
  parent?: string;
  /** For `exec:`; relative to the test's `cwd`. Default: that `cwd`. */
  cwd?: string;
  [key: string]: unknown;
}

export interface TestHiveOptions {
  plugins: TestPluginSpec[];
  /** Where relative `exec:` paths are taken from. Default: process.cwd(). */
  cwd?: string;
  commandPrefix?: string;
  /** The bot's nick on the scripted network (`hive`) and the channel `say` speaks in (`#test`). */
  nick?: string;
  channel?: string;
  /** How long say(), waitFor() and the rest wait by default. Default 10 s. */
  timeoutMs?: number;
  /** How long start-up may take (the bus, the mouth, every plugin attached). Default 30 s. */
  startTimeoutMs?: number;
  /** The hive's log level (its log lines are in `hive.logs`). Default info; `ready()` needs info or debug. */
  logLevel?: 'debug' | 'info';
  /** Other top-level keys of the config (docs/config.md), e.g. `{ restart: … }`. */
  config?: Record<string, unknown>;
  /** Environment for `hive up` (and so for every plugin), added to this process's. */
  env?: Record<string, string>;
}

/** A line the bot sent on the scripted network. */
export type Sent = ScriptSent;

/** A message the mouth refused to send (the allow-list, a CTCP, a line too long, …): the plugin got the error. */
export interface Refused {
  refused: string;
  message: string;
  lines: string[];
  reply_to?: string;
  origin?: string;
  via?: string;
}

/** One message the bot sent: all its lines. */
export interface Reply {
  /** The lines' texts joined with \n; `lines` one by one. */
  text: string;
  lines: string[];
  target: string;
  command: string;
  origin?: string;
  reply_to?: string;
  meta: Record<string, unknown>;
  sent: Sent[];
}

export interface SayOptions {
  /** Who speaks (default `alice`) and where: a channel, or the bot's nick for a private message. */
  as?: string;
  in?: string;
  timeoutMs?: number;
}

export type TestHiveErrorCode = 'StartFailed' | 'NoReply' | 'Timeout' | 'Refused' | 'NoSuchNode' | 'Closed';

export class TestHiveError extends Error {
  constructor(readonly code: TestHiveErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = 'TestHiveError';
  }
}

export interface TestHive {
  readonly dir: string;
  readonly instance: string;
  readonly configFile: string;
  /** The environment that points the `hive` command at this hive (its runtime dir): `hive tree --config FILE` with it. */
  readonly env: Readonly<Record<string, string>>;
  readonly nick: string;
  readonly channel: string;
  /** Everything the bot sent so far, and what the mouth refused to send. */
  readonly sent: readonly Sent[];
  readonly refused: readonly Refused[];
  /** The hive's log lines (JSON objects; `node` names the node, `msg` says what), the last 20,000. */
  readonly logs: readonly Record<string, unknown>[];
  /** Says `text` and resolves with the first reply to it. */
  say(text: string, opts?: SayOptions): Promise<Reply>;
  /** Says `text` and resolves with every reply to it that came before `quietMs` (default 500) passed without one. */
  sayAll(text: string, opts?: SayOptions & { quietMs?: number }): Promise<Reply[]>;
  /** Says `text` without waiting for a reply; resolves with the line's hive.id (for replyTo). */
  post(text: string, opts?: Omit<SayOptions, 'timeoutMs'>): Promise<string>;
  /** A raw line from the server (`:bob!b@h JOIN #test`); resolves with its hive.id. */
  line(raw: string): Promise<string>;
  /** The first reply to the line of that hive.id. */
  replyTo(hiveId: string, timeoutMs?: number): Promise<Reply>;
  /** The first line the bot sent (so far or from now) for which `pred` is true. */
  waitFor(pred: (s: Sent) => boolean, timeoutMs?: number): Promise<Sent>;
  /**
   * kill -9 the node's process. The supervisor starts it again; resolves once it runs and has
   * attached again, or with `{ wait: false }` as soon as the supervisor has seen it die (to say
   * things while it is down: it is caught up by replay once back, if it had saved where it was,
   * which a node does 100 ms after a message at most).
   */
  kill(node: string, opts?: { wait?: boolean }): Promise<{ pid: number }>;
  stop(node: string): Promise<void>;
  start(node: string): Promise<void>;
  restart(node: string): Promise<void>;
  /** Waits until the node (every node without a name) runs and has attached to its parent since it last started. */
  ready(node?: string, timeoutMs?: number): Promise<void>;
  /** What `hive tree --json` gives. */
  tree(): Promise<{ instance: string; nodes: TreeNodeInfo[] }>;
  node(name: string): Promise<TreeNodeInfo>;
  /** Stops the hive and removes its temp dir; safe to call twice. */
  close(): Promise<void>;
}

const HERE = dirname(fileURLToPath(import.meta.url));
/** `bin/hive` of this package: testing.ts runs from dist/tree-supervisor/, and under vitest from tree-supervisor/. */
function hiveBin(): string {
  if (process.env.HIVE_BIN) return process.env.HIVE_BIN;
  for (const up of ['../../bin/hive', '../bin/hive']) {
    const p = resolve(HERE, up);
    if (existsSync(p)) return p;
  }
  throw new TestHiveError('StartFailed', `no bin/hive found near ${HERE}; set HIVE_BIN`);
}

/**
 * The watchdog: `sh -c WATCHDOG hive-watchdog DIR COMMAND…` runs COMMAND (hive up), sends it
 * SIGTERM when its stdin ends — when the test process closes the pipe or dies in any way — and
 * removes DIR once it has exited. A non-interactive sh gives a background job /dev/null as stdin,
 * so the pipe is kept on fd 3 and read there.
 */
const WATCHDOG = `dir=$1; shift
exec 3<&0
"$@" </dev/null 3<&- &
pid=$!
( while read -r _; do :; done <&3; kill -TERM "$pid" 2>/dev/null ) &
w=$!
wait "$pid"; code=$?
kill "$w" 2>/dev/null
rm -rf "$dir"
exit "$code"`;

const LOG_KEEP = 20_000;
const live = new Set<{ pgid: number; dir: string }>();
let exitHook = false;
function onExit(): void {
  // Synchronous only, and at once: hive up dies (its private bus with it, by PDEATHSIG, and the nodes with their bus).
  for (const h of live) {
    try { process.kill(-h.pgid, 'SIGKILL'); } catch { /* gone */ }
    rmSync(h.dir, { recursive: true, force: true });
  }
}

let counter = 0;

export async function testHive(opts: TestHiveOptions): Promise<TestHive> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const nick = opts.nick ?? 'hive';
  const channel = opts.channel ?? '#test';
  const cwd = resolve(opts.cwd ?? process.cwd());
  const dir = await mkdtemp(join(tmpdir(), 'hive-test-'));
  const instance = typeof opts.config?.instance === 'string' ? opts.config.instance : `t${process.pid}_${++counter}`;
  const socketPath = join(dir, 'script.sock');
  const configFile = join(dir, 'hive.yaml');
  const runtimeDir = join(dir, 'run');
  // Relative exec: cwd and dir: are the test's, not the temp config folder's.
  const plugins = opts.plugins.map((p) => {
    const q = p.exec ? { ...p, cwd: resolve(cwd, p.cwd ?? '.') } : { ...p };
    if (typeof q.dir === 'string') q.dir = resolve(cwd, q.dir);
    return q;
  });
  await writeFile(configFile, stringify({
    instance, bus: 'private', state_dir: join(dir, 'state'), log_level: opts.logLevel ?? 'info',
    ...(opts.commandPrefix !== undefined && { command_prefix: opts.commandPrefix }),
    ...opts.config,
    networks: { test: { type: 'script', socket: socketPath, nick, channel } },
    plugins,
  }));
  const env = { ...process.env, ...opts.env, HIVE_RUNTIME_DIR: runtimeDir, HIVE_LOG_FORMAT: 'json' };
  const proc: ChildProcess = spawn('sh', ['-c', WATCHDOG, 'hive-watchdog', dir, process.execPath, hiveBin(), 'up', '--config', configFile], {
    env, stdio: ['pipe', 'pipe', 'pipe'], detached: true,
  });
  const handle = { pgid: proc.pid!, dir };
  live.add(handle);
  if (!exitHook) { process.on('exit', onExit); exitHook = true; }
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  // Nothing of the hive keeps this process alive: a test runner that is done may exit (onExit then kills it).
  proc.unref();
  for (const s of [proc.stdin, proc.stdout, proc.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();

  const logs: Record<string, unknown>[] = [];
  const sent: Sent[] = [];
  const refused: Refused[] = [];
  const watchers = new Set<() => void>();
  const changed = () => { for (const w of [...watchers]) w(); };
  const eachLine = (stream: NodeJS.ReadableStream, fn: (l: string) => void) => {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl !== -1; nl = buf.indexOf('\n')) { fn(buf.slice(0, nl)); buf = buf.slice(nl + 1); }
    });
  };
  const log = (l: string) => {
    if (!l.trim()) return;
    let entry: Record<string, unknown>;
    try { entry = JSON.parse(l) as Record<string, unknown>; } catch { entry = { msg: l }; }
    logs.push(entry);
    if (logs.length > LOG_KEEP) logs.splice(0, logs.length - LOG_KEEP);
    changed();
  };
  eachLine(proc.stderr!, log);
  eachLine(proc.stdout!, log);
  let exitCode: number | null | undefined;
  void exited.then((c) => { exitCode = c; changed(); });

  /** Waits until `check` gives a value (checked at each log line, line sent and every 50 ms). */
  const until = <T>(check: () => T | undefined | Promise<T | undefined>, ms: number, what: () => string, code: TestHiveErrorCode = 'Timeout'): Promise<T> =>
    new Promise<T>((resolveP, reject) => {
      let busy = false;
      let done = false;
      const finish = (fn: () => void) => { done = true; watchers.delete(poke); clearInterval(tick); clearTimeout(timer); fn(); };
      const poke = () => {
        if (busy || done) return;
        busy = true;
        Promise.resolve().then(check).then((v) => { busy = false; if (v !== undefined && !done) finish(() => resolveP(v)); }, (err: unknown) => { busy = false; if (!done) finish(() => reject(err)); });
      };
      watchers.add(poke);
      const tick = setInterval(poke, 50);
      const timer = setTimeout(() => finish(() => reject(new TestHiveError(code, what()))), ms);
      poke();
    });

  const tail = (n = 15) => logs.filter((l) => Number(l.level ?? 30) >= 40).slice(-n).map((l) => `  ${l.node ?? '?'}: ${l.msg}${l.child ? ` (${l.child})` : ''}${l.why ? ` — ${l.why}` : ''}${l.err ? ` — ${(l.err as { message?: string }).message}` : ''}`).join('\n');

  let sock: net.Socket | undefined;
  let closing = false;

  // ---- start-up: the tree ready, then the script socket
  try {
    await until(() => {
      if (logs.some((l) => l.msg === 'tree ready')) return true;
      if (exitCode !== undefined) throw new TestHiveError('StartFailed', `hive up exited ${exitCode}:\n${logs.slice(-20).map((l) => `  ${JSON.stringify(l)}`).join('\n')}`);
      return undefined;
    }, opts.startTimeoutMs ?? 30_000, () => `the hive was not ready within ${opts.startTimeoutMs ?? 30_000} ms:\n${tail()}`, 'StartFailed');
  } catch (err) {
    await teardown();
    throw err;
  }

  // ---- the script socket: JSON lines both ways; reconnected if the mouth restarts
  let ids = 0;
  const acks = new Map<string, { resolve: (hiveId: string) => void; reject: (e: Error) => void }>();
  const connect = () => new Promise<void>((resolveC, rejectC) => {
    const s = net.connect(socketPath);
    s.once('connect', () => {
      sock = s;
      s.unref();
      eachLine(s, (l) => {
        let m: Record<string, unknown>;
        try { m = JSON.parse(l) as Record<string, unknown>; } catch { return; }
        if ('sent' in m) sent.push(m as unknown as Sent);
        else if ('refused' in m) refused.push(m as unknown as Refused);
        else if (typeof m.id === 'string' && acks.has(m.id)) {
          const a = acks.get(m.id)!;
          acks.delete(m.id);
          if (m.ok === true) a.resolve(String(m.hive_id));
          else a.reject(new TestHiveError('Refused', `the script network refused it: ${String(m.error)}: ${String(m.message)}`));
        }
        changed();
      });
      resolveC();
    });
    s.once('error', (err) => { if (sock !== s) rejectC(err); });
    s.once('close', () => {
      if (sock !== s) return;
      sock = undefined;
      for (const a of acks.values()) a.reject(new TestHiveError('Closed', 'the mouth went away before answering (it restarts: say it again)'));
      acks.clear();
      if (!closing) void reconnect();
    });
  });
  const reconnect = async () => {
    const deadline = Date.now() + 60_000;
    while (!closing && !sock && Date.now() < deadline) {
      try { await connect(); return; } catch { await new Promise((r) => setTimeout(r, 50)); }
    }
  };
  try {
    await until(() => connect().then(() => true, () => undefined), 10_000, () => `cannot connect to the script network at ${socketPath}:\n${tail()}`, 'StartFailed');
  } catch (err) {
    await teardown();
    throw err;
  }

  const request = async (body: Record<string, unknown>): Promise<string> => {
    if (closing) throw new TestHiveError('Closed', 'the test hive is closed');
    if (!sock) await until(() => sock, timeoutMs, () => 'the script network is not back (is the mouth running?)', 'Closed');
    const id = `r${++ids}`;
    return new Promise<string>((resolveR, rejectR) => {
      // The timer also keeps this process alive while it waits (the socket does not: it is unref'd).
      const timer = setTimeout(() => { acks.delete(id); rejectR(new TestHiveError('Timeout', `the script network did not answer within ${timeoutMs} ms`)); }, timeoutMs);
      acks.set(id, { resolve: (v) => { clearTimeout(timer); resolveR(v); }, reject: (e) => { clearTimeout(timer); rejectR(e); } });
      sock!.write(JSON.stringify({ ...body, id }) + '\n');
    });
  };
  const sayBody = (text: string, o: Omit<SayOptions, 'timeoutMs'> = {}) => ({ say: text, ...(o.as !== undefined && { as: o.as }), ...(o.in !== undefined && { in: o.in }) });

  /** The messages answering `hiveId` whose lines are all in, in order. */
  const repliesTo = (hiveId: string): Reply[] => {
    const byMessage = new Map<number, Sent[]>();
    for (const s of sent) if (s.reply_to === hiveId) byMessage.set(s.message, [...(byMessage.get(s.message) ?? []), s]);
    return [...byMessage.values()].filter((ls) => ls[ls.length - 1]!.last).map((ls) => {
      const lines = ls.map((s) => s.text ?? s.sent);
      return { text: lines.join('\n'), lines, target: ls[0]!.target ?? '', command: ls[0]!.command, origin: ls[0]!.origin, reply_to: hiveId, meta: ls[0]!.meta, sent: ls };
    });
  };

  const noReply = async (what: string) => {
    let nodes = '';
    try {
      const t = await fetchTree(await info());
      nodes = t.nodes.filter((n) => n.state !== 'running').map((n) => `  ${n.name}: ${n.state}${n.error ? ` (${n.error})` : ''}`).join('\n');
    } catch { /* the hive may be gone */ }
    const said = sent.slice(-5).map((s) => `  ${s.sent}`).join('\n');
    return `${what}${nodes ? `\nnodes not running:\n${nodes}` : ''}${said ? `\nthe bot's last lines:\n${said}` : ''}${refused.length ? `\nrefused by the mouth: ${refused.slice(-3).map((r) => `${r.refused} (${r.origin})`).join(', ')}` : ''}${tail() ? `\nwarnings and errors:\n${tail()}` : ''}`;
  };

  const replyTo = async (hiveId: string, ms = timeoutMs): Promise<Reply> => {
    try {
      return await until(() => repliesTo(hiveId)[0], ms, () => `no reply to ${hiveId} within ${ms} ms`, 'NoReply');
    } catch (err) {
      if (err instanceof TestHiveError && err.code === 'NoReply') throw new TestHiveError('NoReply', await noReply(`no reply to ${hiveId} within ${ms} ms`));
      throw err;
    }
  };

  let infoCache: RuntimeInfo | undefined;
  const info = async (): Promise<RuntimeInfo> => {
    infoCache ??= runtimeInfoSchema.parse(JSON.parse(await readFile(join(runtimeDir, `${instance}.json`), 'utf8')));
    return infoCache;
  };
  const tree = async () => fetchTree(await info());
  const node = async (name: string) => {
    const n = (await tree()).nodes.find((x) => x.name === name);
    if (!n) throw new TestHiveError('NoSuchNode', `no node '${name}' in the hive`);
    return n;
  };
  const supervisorCall = async (member: string, name: string) => {
    await withSupervisor(await info(), (call) => call(member, 's', [name]));
  };

  async function teardown(): Promise<void> {
    closing = true;
    sock?.destroy();
    if (exitCode === undefined) {
      proc.stdin?.end(); // the watchdog's cue: SIGTERM to hive up, which stops everything in order
      const forced = setTimeout(() => { try { process.kill(-handle.pgid, 'SIGKILL'); } catch { /* gone */ } }, 20_000);
      await exited;
      clearTimeout(forced);
    }
    // Whatever is left of the group (a node that ignored its SIGTERM) goes too.
    try { process.kill(-handle.pgid, 'SIGKILL'); } catch { /* gone */ }
    live.delete(handle);
    await rm(dir, { recursive: true, force: true });
  }
  let closed: Promise<void> | undefined;

  const hive: TestHive = {
    dir, instance, configFile, env: { HIVE_RUNTIME_DIR: runtimeDir }, nick, channel, sent, refused, logs,
    async say(text, o = {}) {
      return replyTo(await request(sayBody(text, o)), o.timeoutMs);
    },
    async sayAll(text, o = {}) {
      const id = await request(sayBody(text, o));
      const quiet = o.quietMs ?? 500;
      const deadline = Date.now() + (o.timeoutMs ?? timeoutMs);
      let count = -1;
      let since = Date.now();
      for (;;) {
        const n = repliesTo(id).length;
        if (n !== count) { count = n; since = Date.now(); }
        if (Date.now() - since >= quiet || Date.now() >= deadline) return repliesTo(id);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    post: (text, o = {}) => request(sayBody(text, o)),
    line: (raw) => request({ line: raw }),
    replyTo,
    waitFor: (pred, ms = timeoutMs) => until(() => sent.find(pred), ms, () => `no line the bot sent matched within ${ms} ms; it sent:\n${sent.slice(-10).map((s) => `  ${s.sent}`).join('\n')}`),
    async kill(name, o = {}) {
      const n = await node(name);
      if (!n.pid || n.state !== 'running') throw new TestHiveError('NoSuchNode', `node '${name}' has no running process (state ${n.state})`);
      const pid = n.pid;
      process.kill(pid, 'SIGKILL');
      await until(async () => {
        const m = await node(name);
        return m.pid !== pid || m.state !== 'running' ? true : undefined;
      }, timeoutMs, () => `the supervisor did not see ${name} (pid ${pid}) die`);
      if (o.wait !== false) await hive.ready(name);
      return { pid };
    },
    stop: (name) => supervisorCall('Stop', name),
    start: (name) => supervisorCall('Start', name),
    restart: (name) => supervisorCall('Restart', name),
    async ready(name, ms = timeoutMs) {
      const attached = (n: string) => {
        // Since the node's last start (the supervisor's 'node started'): the node's own 'attached to parent'.
        let started = -1;
        for (let i = logs.length - 1; i >= 0; i--) if (logs[i]!.msg === 'node started' && logs[i]!.child === n) { started = i; break; }
        // Or its parent's 'child attached' (any SDK) or 'child joined' (a node without a connection of its own: shell).
        return logs.slice(started + 1).some((l) => (l.node === n && l.msg === 'attached to parent') || (l.child === n && l.node !== 'supervisor' && (l.msg === 'child attached' || l.msg === 'child joined')));
      };
      await until(async () => {
        const nodes = (await tree()).nodes.filter((n) => (name ? n.name === name : n.name !== 'mouth' && !n.remote));
        if (name && nodes.length === 0) throw new TestHiveError('NoSuchNode', `no node '${name}' in the hive`);
        return nodes.every((n) => n.state === 'running' && attached(n.name)) ? true : undefined;
      }, ms, () => `${name ?? 'the nodes'} not running and attached within ${ms} ms:\n${tail()}`);
    },
    tree,
    node,
    close() {
      closed ??= teardown();
      return closed;
    },
  };
  return hive;
}
