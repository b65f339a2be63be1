/**
 * `hive dev PATH`: a development hive for one plugin (a folder `hive new` made, any folder with a
 * plugin manifest, or one file: .py, .sh, .js, .ts): a private bus, the terminal network (what
 * you type goes to the bot), the plugin and `help`. When the plugin's files change it restarts
 * just that plugin, after compiling it for TypeScript (its own tsc, else Hive's), and it shows the
 * plugin's log lines and what flows in the tree (`hive tap`'s messages) one readable line each.
 *
 * The hive is `hive up` in a child process of its own process group: Ctrl-C reaches `hive dev`
 * only, which asks the hive to stop once (a second Ctrl-C forces it, as for `hive up`), waits for
 * it, and removes its temporary folder. What `hive up` leaves nowhere (runtime file, bus socket,
 * node processes) is then gone too; `hive dev` checks and says so.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync, watch, type FSWatcher } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, join, relative, resolve, sep } from 'node:path';
import { createInterface } from 'node:readline';
import { PassThrough, type Writable } from 'node:stream';
import { stringify as toYaml } from 'yaml';
import { NAME_PATTERN } from '../protocol/names.js';
import { CliError, withSupervisor } from './cli-client.js';
import { hiveRoot } from './cli-new.js';
import { EXIT_CODES } from './exit-codes.js';
import { PluginSourceError, readManifest } from './plugin-manifest.js';
import { readRuntimeInfo, runtimeFile, type RuntimeInfo } from './runtime-file.js';

/** What `hive dev` runs and watches. */
export interface DevTarget {
  name: string;
  language: string;
  /** The plugin spec put in the dev hive's config (dir: for a folder, exec: for a file). */
  spec: Record<string, unknown>;
  /** Watched for changes (a folder, recursively, or one file). */
  watch: { dir: string; file?: string };
  /** Run before each start; refused output is shown and the plugin is not restarted. */
  build?: { command: string[]; cwd: string };
  /** A single .ts file is copied here and compiled (its imports resolve from here). */
  copyTo?: string;
  commands: string[];
}

/** Folders never watched: what builds and installs write, and what nobody edits. */
const IGNORED = /(^|[\\/])(node_modules|dist|build|\.git|__pycache__|\.hive-dev)([\\/]|$)|\.(pyc|tsbuildinfo|swp|swx)$|~$|(^|[\\/])\.?#/;

/** The TypeScript compiler for a plugin: its own (node_modules/.bin/tsc), else Hive's. */
export function tscFor(dir: string, root = hiveRoot()): string[] {
  const own = join(dir, 'node_modules/typescript/bin/tsc');
  if (existsSync(own)) return [process.execPath, own];
  return [process.execPath, join(root, 'node_modules/typescript/bin/tsc')];
}

function pluginName(file: string): string {
  const base = basename(file, extname(file)).replace(/[^A-Za-z0-9_]/g, '_').slice(0, 64);
  return NAME_PATTERN.test(base) ? base : `p${base}`.slice(0, 64);
}

/** PATH as a plugin: a folder with a manifest, or one file by its extension. */
export async function devTarget(path: string, work: string, root = hiveRoot()): Promise<DevTarget> {
  const abs = resolve(path);
  let st;
  try { st = statSync(abs); } catch { throw new CliError(`${path}: no such file or folder`, EXIT_CODES.usage); }
  if (st.isDirectory()) {
    let source;
    try { source = readManifest(abs); } catch (err) {
      if (err instanceof PluginSourceError) throw new CliError(err.message, EXIT_CODES.usage);
      throw err;
    }
    const m = source.manifest;
    const build = m.build ? { command: m.build, cwd: abs } : m.language === 'typescript' && existsSync(join(abs, 'tsconfig.json')) ? { command: [...tscFor(abs, root), '-p', '.'], cwd: abs } : undefined;
    return { name: m.name, language: m.language ?? 'other', spec: { dir: abs }, watch: { dir: abs }, build, commands: (m.commands ?? []).map((c) => c.name) };
  }
  const name = pluginName(abs);
  const ext = extname(abs);
  const runner = join(root, 'dist/plugins/run.js');
  const watchOne = { dir: dirname(abs), file: basename(abs) };
  switch (ext) {
    case '.py': return { name, language: 'python', spec: { name, exec: ['/usr/bin/python3', abs], cwd: dirname(abs) }, watch: watchOne, commands: [] };
    case '.sh': return { name, language: 'shell', spec: { name, exec: ['bash', abs], cwd: dirname(abs) }, watch: watchOne, commands: [] };
    case '.js': case '.mjs': return { name, language: 'javascript', spec: { name, exec: [process.execPath, '--max-semi-space-size=1', runner, abs], cwd: dirname(abs) }, watch: watchOne, commands: [] };
    case '.ts': case '.mts': {
      // One file, compiled in the work folder, where node_modules/hive is this Hive: `import … from 'hive/sdk'` resolves there.
      const src = join(work, 'plugin', 'src');
      const out = join(work, 'plugin', 'dist', 'src', `${name}.js`);
      return {
        name, language: 'typescript', spec: { name, exec: [process.execPath, '--max-semi-space-size=1', runner, out], cwd: dirname(abs) }, watch: watchOne,
        build: { command: [...tscFor(join(work, 'plugin'), root), '-p', '.'], cwd: join(work, 'plugin') }, copyTo: join(src, `${name}.ts`), commands: [],
      };
    }
    default:
      return { name, language: 'other', spec: { name, exec: [abs], cwd: dirname(abs) }, watch: watchOne, commands: [] };
  }
}

const two = (n: number, w = 2) => String(n).padStart(w, '0');
function clock(t = Date.now()): string {
  const d = new Date(t);
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${two(d.getMilliseconds(), 3)}`;
}

const LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const HIDDEN_FIELDS = new Set(['level', 'time', 'msg', 'node', 'kind', 'pid', 'hostname', 'stream']);

function fieldText(v: unknown): string {
  if (typeof v === 'string') return /[\s"=]/.test(v) ? JSON.stringify(v) : v;
  try { return JSON.stringify(v) ?? String(v); } catch { return String(v); }
}

/**
 * One of `hive up`'s JSON log lines as `hive dev` shows it, or undefined to leave it out: every
 * line of the plugin, the supervisor's about the plugin, and warnings and errors of anyone.
 */
export function formatLog(line: string, plugin: string): string | undefined {
  let o: Record<string, unknown>;
  try { o = JSON.parse(line) as Record<string, unknown>; } catch { return line.trim() ? line : undefined; }
  if (!o || typeof o !== 'object') return line;
  const level = typeof o.level === 'number' ? o.level : 30;
  const mine = o.node === plugin || o.child === plugin;
  if (!mine && level < 40) return undefined;
  // A node's own output that is not a log line (a print, a traceback) comes as `text`.
  const msg = o.msg === 'node output' && typeof o.text === 'string' ? o.text : String(o.msg ?? '');
  const who = typeof o.node === 'string' && o.node !== 'supervisor' ? o.node : 'supervisor';
  const fields = Object.entries(o).filter(([k]) => !HIDDEN_FIELDS.has(k) && !(k === 'text' && o.msg === 'node output') && !(k === 'child' && o.child === plugin)).map(([k, v]) => `${k}=${fieldText(v)}`);
  const t = typeof o.time === 'number' ? o.time : Date.now();
  return `${clock(t)} ${who.padEnd(10)} ${(LEVEL_NAMES[level] ?? String(level)).padEnd(5)} ${msg}${fields.length ? '  ' + fields.join(' ') : ''}`;
}

interface TapRecord { time?: number; direction?: string; from?: string; to?: string; route?: string; lines?: string[]; meta?: Record<string, unknown> }

/** One message of `hive tap --json` as a line of conversation: who said what where, which way it went. */
export function formatTap(json: string): string | undefined {
  let r: TapRecord;
  try { r = JSON.parse(json) as TapRecord; } catch { return undefined; }
  const meta = r.meta ?? {};
  const lines = r.lines ?? [];
  const when = clock(typeof r.time === 'number' ? r.time : Date.now());
  if (lines.length === 0) return `${when} ${r.direction === 'up' ? '↑' : '↓'} (${String(meta['hive.event'] ?? 'event')})`;
  const shown = lines.map((l) => {
    const m = /^(?:@\S+ )?(?::([^!\s]+)\S* )?(PRIVMSG|NOTICE) (\S+) :?(.*)$/.exec(l);
    if (!m) return l;
    const [, nick, command, target, text] = m;
    return r.direction === 'up' ? `${command === 'NOTICE' ? '(notice) ' : ''}→ ${target}: ${text}` : `<${nick ?? '?'}> in ${target}: ${text}`;
  });
  const extra = r.direction === 'up' && meta['hive.reply_to'] ? `  (reply to ${String(meta['hive.reply_to'])})` : '';
  return `${when} ${r.direction === 'up' ? `↑ ${r.from ?? '?'}` : '↓'} ${shown.join(' ⏎ ')}${extra}`;
}

export interface DevOptions {
  path: string;
  /** The plugin's `config:` (JSON), for a single file or to override the folder's. */
  pluginConfig?: string;
  instance?: string;
  stdin?: NodeJS.ReadableStream;
  stdout?: Writable;
}

export async function dev(opts: DevOptions): Promise<number> {
  const out = opts.stdout ?? process.stdout;
  const say = (s: string) => { out.write(s + '\n'); };
  const root = hiveRoot();
  const work = await mkdtemp(join(tmpdir(), 'hive-dev-'));
  let target: DevTarget;
  try {
    target = await devTarget(opts.path, work, root);
  } catch (err) {
    await rm(work, { recursive: true, force: true });
    throw err;
  }
  const instance = opts.instance ?? `dev_${target.name}`.slice(0, 64);
  let pluginConfig: unknown;
  if (opts.pluginConfig !== undefined) {
    try { pluginConfig = JSON.parse(opts.pluginConfig); } catch {
      await rm(work, { recursive: true, force: true });
      throw new CliError(`--plugin-config must be JSON; got ${JSON.stringify(opts.pluginConfig.slice(0, 60))}`, EXIT_CODES.usage);
    }
  }
  if (await readRuntimeInfo(instance)) {
    await rm(work, { recursive: true, force: true });
    throw new CliError(`a hive '${instance}' is already running (another \`hive dev\`?); stop it with \`hive down --instance ${instance}\`, or give --instance`, EXIT_CODES.error);
  }

  // A single .ts file: a little project around it in the work folder, with this Hive linked in.
  if (target.copyTo) {
    const proj = dirname(dirname(target.copyTo));
    await mkdir(join(proj, 'node_modules'), { recursive: true });
    await symlink(root, join(proj, 'node_modules/hive'));
    // Its other imports: the packages of the nearest node_modules above the file, then Hive's own (zod, …).
    for (const from of [nearestNodeModules(target.watch.dir), join(root, 'node_modules')]) {
      if (!from) continue;
      for (const entry of readdirSync(from)) {
        if (entry.startsWith('.') || existsSync(join(proj, 'node_modules', entry))) continue;
        await symlink(join(from, entry), join(proj, 'node_modules', entry));
      }
    }
    await writeFile(join(proj, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: true, rootDir: '.', outDir: 'dist', incremental: true, tsBuildInfoFile: 'dist/.tsbuildinfo' },
      include: ['src', 'node_modules/hive/types'],
    }));
    await writeFile(join(proj, 'package.json'), '{"type": "module", "private": true}\n');
  }

  const build = async (): Promise<boolean> => {
    if (!target.build) return true;
    if (target.copyTo) {
      await mkdir(dirname(target.copyTo), { recursive: true });
      await copyFile(join(target.watch.dir, target.watch.file!), target.copyTo);
    }
    const t0 = Date.now();
    const [cmd, ...args] = target.build.command;
    const r = await new Promise<{ code: number | null; output: string }>((done) => {
      const p = spawn(cmd!, args, { cwd: target.build!.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      p.stdout.on('data', (d: Buffer) => { output += d.toString(); });
      p.stderr.on('data', (d: Buffer) => { output += d.toString(); });
      p.on('error', (err) => done({ code: null, output: `${cmd}: ${err.message}` }));
      p.on('close', (code) => done({ code, output }));
    });
    if (r.code === 0) {
      say(`${clock()} hive dev   built ${target.name} (${target.build.command.slice(-3).map((a) => basename(a)).join(' ')}, ${Date.now() - t0} ms)`);
      return true;
    }
    say(`${clock()} hive dev   the build failed; ${target.name} keeps running as it was:`);
    for (const l of r.output.trimEnd().split('\n').slice(0, 40)) say(`    ${target.copyTo ? l.replaceAll(`src/${basename(target.copyTo)}`, target.watch.file!) : l}`);
    return false;
  };

  const where = target.watch.file ? join(target.watch.dir, target.watch.file) : target.watch.dir;
  const commands = target.commands.length ? ` (try !${target.commands[0]})` : '';
  say(`hive dev: ${target.name} (${target.language}) from ${where}, in hive '${instance}'. Type to talk to the bot${commands}; changes restart ${target.name}; Ctrl-C ends it.`);

  await build();
  const config = {
    instance, bus: 'private', state_dir: join(work, 'state'), log_level: 'debug',
    networks: { console: { type: 'terminal' } },
    plugins: [{ name: 'help', use: 'help' }, { ...target.spec, ...(pluginConfig !== undefined && { config: pluginConfig }) }],
  };
  const configFile = join(work, 'hive.yaml');
  await writeFile(configFile, toYaml(config));

  // `hive up` in its own process group: the terminal's Ctrl-C is ours to pass on, once.
  const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));
  const hiveArgs = [join(root, 'bin/hive'), 'up', '--config', configFile];
  const [file, ...args] = setpriv ? [setpriv, '--pdeathsig', 'TERM', '--', process.execPath, ...hiveArgs] : [process.execPath, ...hiveArgs];
  const child: ChildProcess = spawn(file!, args, { env: { ...process.env, HIVE_LOG_FORMAT: 'json' }, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  const exited = new Promise<number>((done) => child.on('exit', (code, signal) => done(code ?? (signal ? 128 : 1))));
  createInterface({ input: child.stdout! }).on('line', (l) => say(`<hive> ${l}`));
  createInterface({ input: child.stderr! }).on('line', (l) => { const s = formatLog(l, target.name); if (s !== undefined) say(s); });
  child.stdin!.on('error', () => undefined); // the hive may be gone before our input is
  const input = opts.stdin ?? process.stdin;
  input.pipe(child.stdin!);

  // Once the hive is up: its tap, and the watcher.
  let info: RuntimeInfo | undefined;
  let watcher: FSWatcher | undefined;
  let tapStream: PassThrough | undefined;
  let tapDone: Promise<void> | undefined;
  let stopping = false;
  const started = (async () => {
    for (let i = 0; i < 600 && !stopping && child.exitCode === null; i++) {
      info = await readRuntimeInfo(instance);
      if (info?.pid === child.pid) break; // (setpriv execs: the pid is hive up's)
      await new Promise((r) => setTimeout(r, 100));
    }
    if (!info || stopping) return;
    tapStream = new PassThrough();
    createInterface({ input: tapStream }).on('line', (l) => { const s = formatTap(l); if (s) say(s); });
    const { tap } = await import('./cli-tap.js');
    tapDone = tap(info, { json: true }, tapStream).catch(() => undefined);
    watcher = watchTarget(target, () => void onChange());
  })().catch((err: unknown) => say(`${clock()} hive dev   ${(err as Error).message}`));

  let last = snapshot(target);
  let timer: NodeJS.Timeout | undefined;
  let busy = false;
  let again = false;
  const onChange = async () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => void restart(), 250);
  };
  const restart = async () => {
    if (busy) { again = true; return; }
    busy = true;
    try {
      do {
        again = false;
        if (stopping || !info) return;
        // Editors and tools touch files without changing them, or in several steps: restart for a real change only.
        const now = snapshot(target);
        if (now === last) continue;
        last = now;
        say(`${clock()} hive dev   ${target.watch.file ?? 'the plugin\'s files'} changed: ${target.build ? 'building and ' : ''}restarting ${target.name}`);
        if (!(await build()) || stopping) continue;
        await withSupervisor(info, (call) => call('Restart', 's', [target.name])).catch((err: unknown) => say(`${clock()} hive dev   restart failed: ${(err as Error).message}`));
      } while (again);
    } finally { busy = false; }
  };

  let signals = 0;
  const onSignal = () => {
    signals++;
    stopping = true;
    // The first asks the hive to stop, the second forces it: as `hive up` takes them.
    if (signals <= 2 && child.exitCode === null) { try { child.kill('SIGINT'); } catch { /* gone */ } }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const code = await exited;
  stopping = true;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  input.unpipe(child.stdin!);
  if (input === process.stdin) process.stdin.pause();
  if (timer) clearTimeout(timer);
  watcher?.close();
  await started;
  tapStream?.end();
  await Promise.race([tapDone, new Promise((r) => setTimeout(r, 2000))]);
  await rm(work, { recursive: true, force: true });
  // `hive up` leaves the (empty) folders of its nodes' proxy sockets; of this hive of ours, nothing may stay.
  removeEmptyTree(join(dirname(runtimeFile(instance)), `${instance}.nodes`));
  const left = [runtimeFile(instance), ...['bus', 'nodes'].map((x) => join(dirname(runtimeFile(instance)), `${instance}.${x}`))].filter((p) => existsSync(p));
  say(left.length ? `hive dev: stopped (exit ${code}); left behind: ${left.join(', ')}` : `hive dev: stopped (exit ${code}); nothing left behind`);
  return signals > 0 && code === 0 ? EXIT_CODES.ok : code;
}

/** Calls `changed` when a file of the plugin changes (editors often replace a file: rename events count). */
function watchTarget(target: DevTarget, changed: () => void): FSWatcher {
  const { dir, file } = target.watch;
  if (file) return watch(dir, (_, name) => { if (name && basename(String(name)) === file) changed(); });
  return watch(dir, { recursive: true }, (_, name) => {
    if (!name) return;
    const rel = String(name);
    if (IGNORED.test(rel) || rel.split(sep).some((part) => part.startsWith('.') && part !== '.')) return;
    changed();
  });
}

/** The plugin's files as they are now (path, size, mtime): equal snapshots mean nothing to restart for. */
function snapshot(target: DevTarget): string {
  const { dir, file } = target.watch;
  const parts: string[] = [];
  const add = (p: string) => { try { const st = statSync(p); parts.push(`${p}:${st.size}:${st.mtimeMs}`); } catch { parts.push(`${p}:gone`); } };
  if (file) { add(join(dir, file)); return parts.join('\n'); }
  const walk = (d: string, depth: number) => {
    let entries;
    try { entries = readdirSync(d, { withFileTypes: true }); } catch { return; }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.name.startsWith('.') || IGNORED.test(relative(dir, p))) continue;
      if (e.isDirectory()) { if (depth < 8) walk(p, depth + 1); } else if (e.isFile()) add(p);
    }
  };
  walk(dir, 0);
  return parts.sort().join('\n');
}

/** Removes `dir` if it holds nothing but empty folders (never a file or a socket someone else may use). */
function removeEmptyTree(dir: string): void {
  const empty = (d: string): boolean => {
    try { return readdirSync(d, { withFileTypes: true }).every((e) => e.isDirectory() && empty(join(d, e.name))); } catch { return false; }
  };
  if (existsSync(dir) && empty(dir)) rmSync(dir, { recursive: true, force: true });
}

function nearestNodeModules(dir: string): string | undefined {
  for (let d = dir; ; d = dirname(d)) {
    const p = join(d, 'node_modules');
    if (existsSync(p)) return p;
    if (dirname(d) === d) return undefined;
  }
}
