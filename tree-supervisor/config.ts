/**
 * The one YAML file that describes a hive: the bus, the networks of the mouth and the tree
 * of plugins. The zod schemas are the single source of the config types (z.infer only).
 *
 * Loading is: YAML → ${ENV} secrets substituted → zod (shape, defaults) → cross-field checks
 * (names, parents, cycles) → relative paths resolved against the config file's directory.
 * Every problem found along the way is reported at once in one ConfigError.
 */
import { closeSync, existsSync, openSync, readdirSync, readSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { homedir, tmpdir, userInfo } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { LineCounter, isMap, isPair, isScalar, isSeq, parseDocument, type Document, type YAMLMap, type YAMLSeq } from 'yaml';
import { z } from 'zod';
import { NAME_PATTERN } from '../protocol/names.js';
import { ConfigError, describeValue, formatPath, quote, zodProblems, type ConfigProblem, type KeyPath } from './config-errors.js';
import { durationSchema } from '../protocol/duration.js';
import { ROOT } from './reparent.js';
import { networkSchema, type NetworkConfig } from '../mouth/network-config.js';

export { IRC_FLOOD_DEFAULTS, channelSchema, ircNetworkSchema, networkSchema, nickSchema, saslSchema, terminalNetworkSchema, type ChannelConfig, type IrcNetworkConfig, type NetworkConfig, type TerminalNetworkConfig } from '../mouth/network-config.js';

export { ConfigError } from './config-errors.js';

type Env = Record<string, string | undefined>;

// ---------------------------------------------------------------- schemas

/** Node, instance and network names end up inside D-Bus bus names (org.hive.<instance>.<node>). */
export const nameSchema = z.string().regex(NAME_PATTERN, {
  error: 'expected a name of letters, digits and _, starting with a letter, at most 64 characters',
});

export const restartSchema = z
  .object({
    max: z.number().int().min(0).default(5),
    /** The sliding window, in ms after parsing. */
    within: durationSchema.default(60_000),
  })
  .strict()
  .prefault({});

/** The built-in plugins: the folders of plugins/ with an index (index.js when built; index.ts when tests run the sources). */
export const BUILT_IN_PLUGINS: readonly string[] = (() => {
  const dir = fileURLToPath(new URL('../plugins/', import.meta.url));
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory() && (existsSync(join(dir, d.name, 'index.js')) || existsSync(join(dir, d.name, 'index.ts')))).map((d) => d.name).sort();
  } catch {
    return [];
  }
})();

/**
 * One plugin node. Exactly one of use/exec/remote is checked after parsing (with the other
 * cross-field checks) so that it is reported even when the entry has other errors too.
 */
export const pluginSchema = z
  .object({
    name: nameSchema,
    /** A built-in plugin. */
    use: z.string().min(1).optional(),
    /** Any program: argv. */
    exec: z.array(z.string().min(1)).min(1).optional(),
    /** Started elsewhere; the supervisor only watches it attach and vanish. */
    remote: z.boolean().optional(),
    parent: nameSchema.default(ROOT),
    on_death: z.enum(['hold', 'bypass']).default('bypass'),
    restart: restartSchema,
    /** Working directory of an exec plugin; the loader always sets it (absolute) for exec plugins. */
    cwd: z.string().min(1).optional(),
    /** Handed to the plugin as is. */
    config: z.unknown().optional(),
  })
  .strict();

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

export const hiveConfigSchema = z
  .object({
    instance: nameSchema.default('default'),
    /** 'session', 'private' (the supervisor starts its own bus) or a D-Bus address. */
    bus: z
      .string()
      .refine((b) => b === 'session' || b === 'private' || /^[a-z][a-z-]*:/.test(b), {
        error: "expected 'session', 'private' or a D-Bus address like unix:path=/run/hive/bus",
      })
      .default('private'),
    /** Each node gets a subfolder. Absent: a per-instance XDG state directory (see defaultStateDir). */
    state_dir: z.string().min(1).optional(),
    log_level: z.enum(LOG_LEVELS).optional(),
    command_prefix: z.string().regex(/^\S{1,8}$/, { error: 'expected 1 to 8 characters without spaces' }).default('!'),
    networks: z.record(nameSchema, networkSchema),
    plugins: z.array(pluginSchema).default([]),
  })
  .strict();

/** The config as the supervisor uses it: defaults applied, durations in ms, paths absolute. */
export type HiveConfig = z.infer<typeof hiveConfigSchema> & { state_dir: string };
/** What may be written in the file (before defaults). */
export type HiveConfigInput = z.input<typeof hiveConfigSchema>;
export type PluginSpec = z.infer<typeof pluginSchema>;

export interface LoadedConfig {
  config: HiveConfig;
  /** Key paths ("networks.libera.sasl.password") whose value came from ${ENV}: redact them in logs. */
  secretPaths: Set<string>;
}

export interface ParseOptions {
  /** Directory that relative paths are resolved against (the config file's). Default: cwd. */
  baseDir?: string;
  env?: Env;
  /** Only for messages. */
  file?: string;
}

// ---------------------------------------------------------------- secrets

const SECRET = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;
const ESCAPED_SECRET = /^\$(\$\{[A-Za-z_][A-Za-z0-9_]*\})$/;

interface Substituted {
  value: unknown;
  /** Formatted key path → env var name. */
  secrets: Map<string, string>;
  secretValues: string[];
  problems: ConfigProblem[];
}

/** Replaces every whole-string "${NAME}" by the env var; "$${NAME}" stays literally "${NAME}". */
export function substituteSecrets(input: unknown, env: Env): Substituted {
  const result: Substituted = { value: undefined, secrets: new Map(), secretValues: [], problems: [] };
  const walk = (node: unknown, path: (string | number)[]): unknown => {
    if (typeof node === 'string') {
      const escaped = ESCAPED_SECRET.exec(node);
      if (escaped) return escaped[1];
      const m = SECRET.exec(node);
      if (!m) return node;
      const name = m[1] as string;
      const value = env[name];
      if (value === undefined) {
        result.problems.push({ keyPath: [...path], message: `environment variable ${name} is not set` });
        return node; // zod problems at this path are dropped, so the placeholder is never judged
      }
      result.secrets.set(formatPath(path), name);
      result.secretValues.push(value);
      return value;
    }
    if (Array.isArray(node)) return node.map((item, i) => walk(item, [...path, i]));
    if (isRecord(node)) {
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(node)) out[key] = walk(item, [...path, key]);
      return out;
    }
    return node;
  };
  result.value = walk(input, []);
  return result;
}

/** A copy of `config` with every secret path's value replaced by '[secret]', for logging. */
export function redactSecrets<T>(config: T, secretPaths: ReadonlySet<string>): T {
  const walk = (node: unknown, path: (string | number)[]): unknown => {
    if (path.length > 0 && secretPaths.has(formatPath(path))) return '[secret]';
    if (Array.isArray(node)) return node.map((item, i) => walk(item, [...path, i]));
    if (isRecord(node)) return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, walk(v, [...path, k])]));
    return node;
  };
  return walk(config, []) as T;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

// ---------------------------------------------------------------- cross-field checks

const RESERVED: Record<string, string> = {
  [ROOT]: `'${ROOT}' is the name of the root node`,
  Supervisor: `'Supervisor' is reserved (it is the supervisor's bus name)`,
};

/**
 * The checks of one plugin entry that need no other entry, for the config file and for a spec
 * given to `hive load` (Supervisor1.Load) alike: exactly one of use/exec/remote, nothing a remote
 * node would ignore, a built-in that exists, no reserved name. Reads the raw entry (before zod's
 * defaults, so that a `restart:` written on a remote node is seen). Key paths are relative to the entry.
 */
export function checkPluginSpec(p: Record<string, unknown>, show: (path: KeyPath, value: string) => string = (_, v) => quote(v)): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const kinds = (['use', 'exec', 'remote'] as const).filter((k) => (k === 'remote' ? p.remote === true : p[k] !== undefined));
  if (kinds.length !== 1) {
    problems.push({
      keyPath: [],
      message: `expected exactly one of use (a built-in plugin), exec (a program) or remote: true; got ${kinds.length === 0 ? 'none' : kinds.join(' and ')}`,
    });
  }
  if (p.remote === true) {
    // The supervisor starts no process for it, so these would silently do nothing.
    for (const key of ['config', 'cwd', 'restart'] as const) {
      if (p[key] !== undefined) problems.push({ keyPath: [key], message: `has no effect on a remote node: it is started where it runs (docs/deploy.md)${key === 'config' ? ', with its config in HIVE_CONFIG there' : ''}` });
    }
  }
  if (typeof p.use === 'string' && !BUILT_IN_PLUGINS.includes(p.use)) {
    problems.push({ keyPath: ['use'], message: `${show(['use'], p.use)} is not a built-in plugin; they are: ${BUILT_IN_PLUGINS.join(', ')}` });
  }
  const reserved = typeof p.name === 'string' ? RESERVED[p.name] : undefined;
  if (reserved) problems.push({ keyPath: ['name'], message: `${reserved}; choose another name` });
  return problems;
}

/**
 * Checks that need the whole config. They read the raw (substituted) input defensively, so
 * they run, and report, even when zod found problems elsewhere in the same file.
 */
function crossFieldProblems(raw: unknown, secrets: ReadonlyMap<string, string>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (!isRecord(raw)) return problems;
  const show = (path: KeyPath, value: string) => {
    const secret = secrets.get(formatPath(path));
    return secret ? describeValue(value, secret) : quote(value);
  };

  if (isRecord(raw.networks) && Object.keys(raw.networks).length === 0) {
    problems.push({ keyPath: ['networks'], message: 'at least one network is required (e.g. console: { type: terminal })' });
  }
  if (!Array.isArray(raw.plugins)) return problems;

  const plugins = raw.plugins.map((p) => (isRecord(p) ? p : {}));
  const firstIndex = new Map<string, number>();

  plugins.forEach((p, i) => {
    for (const problem of checkPluginSpec(p, (path, value) => show(['plugins', i, ...path], value))) {
      problems.push({ ...problem, keyPath: ['plugins', i, ...problem.keyPath] });
    }
    if (typeof p.name !== 'string' || RESERVED[p.name]) return;
    const earlier = firstIndex.get(p.name);
    if (earlier !== undefined) {
      problems.push({ keyPath: ['plugins', i, 'name'], message: `${show(['plugins', i, 'name'], p.name)} is already the name of plugins[${earlier}]` });
    } else firstIndex.set(p.name, i);
  });

  // Unknown parents.
  const parentOf = new Map<string, string>();
  plugins.forEach((p, i) => {
    if (typeof p.parent !== 'string' || p.parent === ROOT) return;
    if (firstIndex.has(p.parent)) {
      if (typeof p.name === 'string' && firstIndex.get(p.name) === i) parentOf.set(p.name, p.parent);
      return;
    }
    const others = [...firstIndex.keys()].filter((n) => n !== p.name);
    const expected = others.length > 0 ? `expected '${ROOT}' or one of: ${others.join(', ')}` : `expected '${ROOT}'`;
    problems.push({ keyPath: ['plugins', i, 'parent'], message: `${show(['plugins', i, 'parent'], p.parent)} is not a node; ${expected}` });
  });

  // Cycles: follow parents from every node; each cycle is reported once, at its first node in file order.
  const reported = new Set<string>();
  for (const start of firstIndex.keys()) {
    const chain: string[] = [];
    let node: string | undefined = start;
    while (node !== undefined && !chain.includes(node)) {
      chain.push(node);
      node = parentOf.get(node);
    }
    if (node === undefined) continue;
    const cycle = chain.slice(chain.indexOf(node));
    if (cycle.some((n) => reported.has(n))) continue;
    cycle.forEach((n) => reported.add(n));
    const first = cycle.reduce((a, b) => ((firstIndex.get(a) ?? 0) <= (firstIndex.get(b) ?? 0) ? a : b));
    const from = cycle.indexOf(first);
    const ordered = [...cycle.slice(from), ...cycle.slice(0, from), first];
    problems.push({
      keyPath: ['plugins', firstIndex.get(first) ?? 0, 'parent'],
      message: `parents form a cycle: ${ordered.join(' → ')} (every node must lead up to '${ROOT}')`,
    });
  }
  return problems;
}

// ---------------------------------------------------------------- loading

/** Where state goes when the config names none: $XDG_STATE_HOME/hive/<instance>, else ~/.local/state/hive/<instance>. */
export function defaultStateDir(instance = 'default', env: Env = process.env): string {
  const xdg = env.XDG_STATE_HOME;
  if (xdg && isAbsolute(xdg)) return join(xdg, 'hive', instance);
  let home = env.HOME;
  if (!home) {
    try {
      home = homedir();
    } catch {
      home = undefined;
    }
  }
  if (home) return join(home, '.local', 'state', 'hive', instance);
  let user = 'user';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (some containers): a shared name is still better than failing
  }
  return join(tmpdir(), `hive-${user}`, instance);
}

/** Validates an already-parsed config object (e.g. from YAML or tests). Throws ConfigError. */
export function parseConfig(obj: unknown, { baseDir = process.cwd(), env = process.env, file }: ParseOptions = {}): LoadedConfig {
  // An empty file parses to null; treat it as {} so the messages say what is missing.
  const substituted = substituteSecrets(obj ?? {}, env);
  const { value: raw, secrets } = substituted;
  const parsed = hiveConfigSchema.safeParse(raw);
  const unset = new Set(substituted.problems.map((p) => formatPath(p.keyPath)));
  const problems = [
    ...substituted.problems,
    ...(parsed.success ? [] : zodProblems(parsed.error.issues, raw, secrets).filter((p) => !unset.has(formatPath(p.keyPath)))),
    ...crossFieldProblems(raw, secrets),
  ];
  if (!parsed.success || problems.length > 0) {
    throw new ConfigError(problems, { file, secretValues: substituted.secretValues });
  }
  return { config: resolvePaths(parsed.data, baseDir, env), secretPaths: new Set(secrets.keys()) };
}

function resolvePaths(data: z.infer<typeof hiveConfigSchema>, baseDir: string, env: Env): HiveConfig {
  const base = resolve(baseDir);
  const networks: Record<string, NetworkConfig> = {};
  for (const [name, net] of Object.entries(data.networks)) {
    networks[name] =
      net.type === 'irc'
        ? {
            ...net,
            ...(net.ca_file && { ca_file: resolve(base, net.ca_file) }),
            ...(net.client_cert && { client_cert: resolve(base, net.client_cert) }),
            ...(net.client_key && { client_key: resolve(base, net.client_key) }),
          }
        : net;
  }
  return {
    ...data,
    state_dir: data.state_dir ? resolve(base, data.state_dir) : defaultStateDir(data.instance, env),
    networks,
    plugins: data.plugins.map((p) => (p.exec ? { ...p, cwd: resolve(base, p.cwd ?? '.') } : p)),
  };
}

/**
 * Bounds of a YAML text the supervisor reads (the config file, a `hive load` spec): a hive's
 * config is a few kilobytes; anything near these is an accident or an attack ("billion laughs":
 * aliases of aliases that expand exponentially; thousands of nested brackets).
 */
export const YAML_LIMITS = { maxBytes: 1024 * 1024, maxAliasCount: 1000, maxDepth: 64 } as const;

/**
 * Parses a bounded YAML text to plain data, or returns the problems (named, with their place):
 * too large, not YAML, too many aliases, too deep. Never throws for what the text contains.
 */
export function parseBoundedYaml(text: string, what: string): { doc: Document; lineCounter: LineCounter; value: unknown } | { problems: ConfigProblem[] } {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > YAML_LIMITS.maxBytes) return { problems: [{ keyPath: [], message: `${what}: ${bytes} bytes; at most ${YAML_LIMITS.maxBytes} are read` }] };
  const lineCounter = new LineCounter();
  let doc: Document;
  try {
    doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  } catch (err) {
    return { problems: [{ keyPath: [], message: `${what}: cannot be parsed: ${(err as Error).message.split('\n')[0]}` }] };
  }
  if (doc.errors.length > 0) {
    return {
      problems: doc.errors.map((e) => {
        const { line, col } = lineCounter.linePos(e.pos[0]);
        return { keyPath: [], message: `${what}:${line}:${col}: ${e.message.split('\n')[0]}` };
      }),
    };
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: YAML_LIMITS.maxAliasCount });
  } catch (err) {
    // yaml throws a ReferenceError for "Excessive alias count"; a RangeError would be a stack overflow.
    if (!/alias/i.test((err as Error).message)) return { problems: [{ keyPath: [], message: `${what}: cannot be read: ${(err as Error).message.split('\n')[0]}` }] };
    const at = aliasBomb(doc);
    const range = at.node?.range;
    const { line, col } = range ? lineCounter.linePos(range[0]) : { line: 1, col: 1 };
    return {
      problems: [{
        keyPath: at.path,
        message: `its aliases (*name) expand to more than ${YAML_LIMITS.maxAliasCount} nodes (a "billion laughs" document); write the values out instead`,
        location: `${what}:${line}:${col}`,
      }],
    };
  }
  const deep = deepestPath(value, YAML_LIMITS.maxDepth);
  if (deep) return { problems: [{ keyPath: deep, message: `nested more than ${YAML_LIMITS.maxDepth} levels deep` }] };
  return { doc, lineCounter, value };
}

/** Where the aliases expand too far: the deepest key whose value alone is refused by toJS. */
function aliasBomb(doc: Document): { path: (string | number)[]; node: { range?: [number, number, number] | null } | undefined } {
  const path: (string | number)[] = [];
  let node: unknown = doc.contents;
  const refused = (n: unknown) => {
    try { (n as { toJS(d: Document, o: object): unknown }).toJS(doc, { maxAliasCount: YAML_LIMITS.maxAliasCount }); return false; } catch { return true; }
  };
  for (let depth = 0; depth < YAML_LIMITS.maxDepth && (isMap(node) || isSeq(node)); depth++) {
    const items = (node as YAMLMap | YAMLSeq).items as unknown[];
    const i = items.findIndex((item) => refused(isPair(item) ? item.value : item));
    if (i < 0) break;
    const item = items[i];
    path.push(isPair(item) ? String(isScalar(item.key) ? item.key.value : item.key) : i);
    node = isPair(item) ? item.value : item;
  }
  return { path, node: node as { range?: [number, number, number] | null } | undefined };
}

/** The key path of a value nested deeper than `max` levels, if any (checked before anything walks the value recursively). */
function deepestPath(value: unknown, max: number): KeyPath | undefined {
  const stack: { v: unknown; path: (string | number)[] }[] = [{ v: value, path: [] }];
  while (stack.length) {
    const { v, path } = stack.pop()!;
    if (path.length > max) return path.slice(0, max + 1);
    if (Array.isArray(v)) v.forEach((item, i) => stack.push({ v: item, path: [...path, i] }));
    else if (isRecord(v)) for (const [k, item] of Object.entries(v)) stack.push({ v: item, path: [...path, k] });
  }
  return undefined;
}

/**
 * The file's text, read in chunks and refused past YAML_LIMITS.maxBytes, so that a huge file (or
 * /dev/zero) is never read whole; pipes such as `--config <(…)` work too.
 */
function readBounded(file: string): string {
  const fd = openSync(file, 'r');
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    const buf = Buffer.alloc(64 * 1024);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      total += n;
      if (total > YAML_LIMITS.maxBytes) throw new ConfigError([{ keyPath: [], message: `${file}: more than ${YAML_LIMITS.maxBytes} bytes; a config file may have at most that` }]);
      chunks.push(Buffer.from(buf.subarray(0, n)));
    }
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** Reads and validates a YAML config file. Throws ConfigError (exitCode 2) listing every problem. */
export function loadConfig(file: string, env: Env = process.env): LoadedConfig {
  let text: string;
  try {
    text = readBounded(file);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new ConfigError([{ keyPath: [], message: `cannot read ${file}: ${why}` }]);
  }

  const parsed = parseBoundedYaml(text, file);
  if ('problems' in parsed) throw new ConfigError(parsed.problems, { file });
  const { doc, lineCounter } = parsed;

  try {
    return parseConfig(parsed.value, { baseDir: dirname(resolve(file)), env, file });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // Point each problem at its line in the file (the problems were already scrubbed of secrets).
    const located = err.problems.map((p) => ({ ...p, location: locate(doc, lineCounter, file, p.keyPath) }));
    // In file order, which is how the user reads and fixes them (sort is stable for ties).
    located.sort((a, b) => lineOf(a.location) - lineOf(b.location));
    throw new ConfigError(located, { file });
  }
}

function lineOf(location: string | undefined): number {
  const m = location ? /:(\d+):(\d+)$/.exec(location) : null;
  return m ? Number(m[1]) * 1e6 + Number(m[2]) : 0;
}

/** "file:line:col" of the deepest node of `path` that exists in the YAML document. */
function locate(doc: Document, lines: LineCounter, file: string, path: KeyPath): string | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
    if (range) {
      const { line, col } = lines.linePos(range[0]);
      return `${file}:${line}:${col}`;
    }
  }
  return undefined;
}

// ---------------------------------------------------------------- helpers for the supervisor

/** The built-in default hive: a private bus, the terminal, and the ping, echo and help plugins. */
export function defaultConfig(env: Env = process.env): HiveConfig {
  return parseConfig(
    {
      bus: 'private',
      networks: { console: { type: 'terminal' } },
      plugins: [
        { name: 'ping', use: 'ping' },
        { name: 'echo', use: 'echo' },
        { name: 'help', use: 'help' },
      ],
    } satisfies HiveConfigInput,
    { env },
  ).config;
}

/**
 * Plugins ordered so that every parent comes before its children (the mouth, first of all,
 * is implied); otherwise in file order. Start nodes in this order, stop them in reverse.
 */
export function treeOrder(config: Pick<HiveConfig, 'plugins'>): PluginSpec[] {
  const placed = new Set<string>([ROOT]);
  const pending = [...config.plugins];
  const ordered: PluginSpec[] = [];
  while (pending.length > 0) {
    const before = pending.length;
    for (let i = 0; i < pending.length; ) {
      const spec = pending[i] as PluginSpec;
      if (placed.has(spec.parent)) {
        ordered.push(spec);
        placed.add(spec.name);
        pending.splice(i, 1);
      } else i++;
    }
    if (pending.length === before) {
      throw new Error(`plugins with an unknown parent or a cycle: ${pending.map((p) => p.name).join(', ')}`);
    }
  }
  return ordered;
}
