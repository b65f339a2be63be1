/**
 * The one YAML file that describes a hive: the bus, the networks of the mouth and the tree
 * of plugins. The zod schemas are the single source of the config types (z.infer only).
 *
 * Loading is: bounded YAML (yaml-bounds.ts) → ${ENV} secrets substituted (config-secrets.ts) →
 * zod (shape, defaults; here) → cross-field checks (names, parents, cycles; config-checks.ts) →
 * relative paths resolved against the config file's directory (config-paths.ts).
 * Every problem found along the way is reported at once in one ConfigError.
 */
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { NAME_PATTERN } from '../protocol/names.js';
import { ConfigError, formatPath, zodProblems, type ConfigProblem } from './config-errors.js';
import { durationSchema } from '../protocol/duration-schema.js';
import { ROOT } from './reparent.js';
import { networkSchema } from '../mouth/network-config.js';
import { crossFieldProblems } from './config-checks.js';
import { substituteSecrets } from './config-secrets.js';
import { resolvePaths } from './config-paths.js';
import { locate, lineOf, parseBoundedYaml, readBounded } from './yaml-bounds.js';
import { execOf, readSource, type PluginSource } from './plugin-manifest.js';

export { IRC_FLOOD_DEFAULTS, channelSchema, ircNetworkSchema, networkSchema, nickSchema, saslSchema, terminalNetworkSchema, type ChannelConfig, type IrcNetworkConfig, type NetworkConfig, type TerminalNetworkConfig } from '../mouth/network-config.js';

export { ConfigError } from './config-errors.js';
// What other modules import from the config, wherever it lives now.
export { BUILT_IN_PLUGINS, checkPluginSpec } from './config-checks.js';
export { redactSecrets, substituteSecrets } from './config-secrets.js';
export { defaultStateDir } from './config-paths.js';
export { YAML_LIMITS, parseBoundedYaml } from './yaml-bounds.js';
export { treeOrder } from './tree-order.js';

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

/** A sandbox's settings (docs/config.md#sandbox). */
export const sandboxSchema = z
  .object({
    network: z.boolean().default(false),
    /** Directories it may read besides its program's, its cwd and Hive's; relative to the config file. */
    read_only: z.array(z.string().min(1)).max(64).default([]),
  })
  .strict();

/**
 * One plugin node. Exactly one of use/exec/dir/package/remote is checked after parsing (with the other
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
    /** A plugin folder with a manifest (plugin-manifest.ts), relative to the config file; becomes exec + cwd when loaded. */
    dir: z.string().min(1).optional(),
    /** An npm package holding a plugin manifest, found from the config file's folder; becomes exec + cwd when loaded. */
    package: z.string().min(1).optional(),
    parent: nameSchema.default(ROOT),
    on_death: z.enum(['hold', 'bypass']).default('bypass'),
    restart: restartSchema,
    /** Working directory of an exec plugin; the loader always sets it (absolute) for exec plugins. */
    cwd: z.string().min(1).optional(),
    /** Handed to the plugin as is. */
    config: z.unknown().optional(),
    /** On the bus itself, or through its own filtering proxy (trust.ts; default by how it is run). */
    trust: z.enum(['direct', 'filtered']).optional(),
    /** Run under bwrap (implies filtered): true, or its settings. */
    sandbox: z.union([z.boolean(), sandboxSchema]).optional(),
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
/** The config as zod returns it, before its paths are resolved. */
export type ParsedConfig = z.infer<typeof hiveConfigSchema>;

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

// ---------------------------------------------------------------- loading

/** Validates an already-parsed config object (e.g. from YAML or tests). Throws ConfigError. */
export function parseConfig(obj: unknown, { baseDir = process.cwd(), env = process.env, file }: ParseOptions = {}): LoadedConfig {
  // An empty file parses to null; treat it as {} so the messages say what is missing.
  const substituted = substituteSecrets(obj ?? {}, env);
  const { secrets } = substituted;
  // Plugins from a folder or a package: their manifests are read first, so that an entry without
  // a name takes the manifest's and every later check sees it.
  const { raw, sources, problems: sourceProblems, nameless } = readSources(substituted.value, baseDir);
  const parsed = hiveConfigSchema.safeParse(raw);
  const unset = new Set(substituted.problems.map((p) => formatPath(p.keyPath)));
  const problems = [
    ...substituted.problems,
    ...sourceProblems,
    // "name is required" would only repeat that the manifest that gives it could not be read.
    ...(parsed.success ? [] : zodProblems(parsed.error.issues, raw, secrets).filter((p) => !unset.has(formatPath(p.keyPath)) && !nameless.has(formatPath(p.keyPath)))),
    ...crossFieldProblems(raw, secrets),
  ];
  if (!parsed.success || problems.length > 0) {
    throw new ConfigError(problems, { file, secretValues: substituted.secretValues });
  }
  const config = resolvePaths(parsed.data, baseDir, env);
  config.plugins = config.plugins.map((p, i) => {
    const s = sources.get(i);
    return s ? { ...p, ...execOf(s.source), dir: s.source.dir, config: s.config } : p;
  });
  return { config, secretPaths: new Set(secrets.keys()) };
}

/** The manifests of the plugins given as `dir:` or `package:`, by index in `plugins`, and their problems. */
function readSources(raw: unknown, baseDir: string): { raw: unknown; sources: Map<number, { source: PluginSource; config: unknown }>; problems: ConfigProblem[]; nameless: Set<string> } {
  const sources = new Map<number, { source: PluginSource; config: unknown }>();
  const problems: ConfigProblem[] = [];
  const nameless = new Set<string>();
  if (!raw || typeof raw !== 'object' || !Array.isArray((raw as { plugins?: unknown }).plugins)) return { raw, sources, problems, nameless };
  const plugins = ((raw as { plugins: unknown[] }).plugins).map((p, i) => {
    if (!p || typeof p !== 'object' || Array.isArray(p)) return p;
    const entry = p as Record<string, unknown>;
    if (entry.dir === undefined && entry.package === undefined) return p;
    const r = readSource(entry, baseDir);
    problems.push(...r.problems.map((q) => ({ ...q, keyPath: ['plugins', i, ...q.keyPath] })));
    if (r.source && r.problems.length === 0) sources.set(i, { source: r.source, config: r.config });
    if (r.entry.name === undefined) nameless.add(formatPath(['plugins', i, 'name']));
    return r.entry;
  });
  return { raw: { ...(raw as object), plugins }, sources, problems, nameless };
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
