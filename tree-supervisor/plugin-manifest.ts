/**
 * Plugins as packages (issue 18): a plugin spec may name a folder (`dir: ./weather`) or an npm
 * package (`package: hive-plugin-weather`) instead of a program. Either holds a manifest,
 * `hive-plugin.yaml` (or `.yml`, or `hive-plugin.json`, or a `"hive-plugin"` key in the package's
 * package.json): the plugin's name, the program to run (argv, in the plugin's folder), its
 * language, its commands and a schema for its `config:`.
 *
 * The manifest is read when the config is loaded (or a spec is given to `hive load`) and the entry
 * becomes what the supervisor already runs: an `exec` argv with the plugin's folder as its `cwd`.
 * So a Python or shell plugin shared as a folder, a git checkout or an npm package is loaded by
 * name, and the supervisor needs nothing new to start it.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { z } from 'zod';
import { NAME_PATTERN } from '../protocol/names.js';
import { formatProblem, quote, zodProblems, type ConfigProblem, type KeyPath } from './config-errors.js';
import { parseBoundedYaml, readBounded } from './yaml-bounds.js';

/** The manifest's file names, in the order they are looked for. */
export const MANIFEST_FILES = ['hive-plugin.yaml', 'hive-plugin.yml', 'hive-plugin.json'] as const;
/** The key of package.json that may hold the manifest instead (an npm package with no manifest file). */
export const PACKAGE_JSON_KEY = 'hive-plugin';

// ---------------------------------------------------------------- the config schema of a manifest

/**
 * A plugin's `config:` described in a small part of JSON Schema (no zod in a manifest: it is
 * YAML or JSON, written by anyone, in any language): enough to refuse a wrong key before the
 * plugin starts, named the way every other config problem is.
 */
export interface ConfigSchema {
  type?: 'object' | 'string' | 'number' | 'integer' | 'boolean' | 'array';
  description?: string;
  properties?: Record<string, ConfigSchema>;
  required?: string[];
  additionalProperties?: boolean;
  items?: ConfigSchema;
  enum?: (string | number | boolean | null)[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  default?: unknown;
}

const validRegex = (p: string) => { try { new RegExp(p, 'u'); return true; } catch { return false; } };

export const configSchemaSchema: z.ZodType<ConfigSchema> = z.lazy(() =>
  z
    .object({
      type: z.enum(['object', 'string', 'number', 'integer', 'boolean', 'array']).optional(),
      description: z.string().max(1000).optional(),
      properties: z.record(z.string(), configSchemaSchema).optional(),
      required: z.array(z.string()).max(256).optional(),
      additionalProperties: z.boolean().optional(),
      items: configSchemaSchema.optional(),
      enum: z.array(z.union([z.string(), z.number(), z.boolean(), z.null()])).min(1).max(256).optional(),
      minimum: z.number().optional(),
      maximum: z.number().optional(),
      minLength: z.number().int().min(0).optional(),
      maxLength: z.number().int().min(0).optional(),
      minItems: z.number().int().min(0).optional(),
      maxItems: z.number().int().min(0).optional(),
      pattern: z.string().max(1000).refine(validRegex, { error: 'expected a regular expression' }).optional(),
      default: z.unknown().optional(),
    })
    .strict(),
);

const LANGUAGES = ['typescript', 'javascript', 'python', 'shell', 'other'] as const;

export const manifestSchema = z
  .object({
    /** The node's name when the spec gives none. */
    name: z.string().regex(NAME_PATTERN, { error: 'expected a name of letters, digits and _, starting with a letter, at most 64 characters' }),
    /** The program, as argv; run in the plugin's folder, so `./weather.py` is the folder's own file. */
    exec: z.array(z.string().min(1)).min(1).max(64),
    language: z.enum(LANGUAGES).optional(),
    description: z.string().max(500).optional(),
    version: z.string().max(64).optional(),
    /** What `hive dev` runs before each start (TypeScript: default the plugin's own tsc, or Hive's). */
    build: z.array(z.string().min(1)).min(1).max(64).optional(),
    /** What the plugin answers, for its reader and for `hive dev`'s banner (`help` asks the node itself). */
    commands: z
      .array(z.object({ name: z.string().regex(/^[^\s!]{1,32}$/, { error: 'expected a command word of 1 to 32 characters, no spaces' }), help: z.string().max(400).optional() }).strict())
      .max(100)
      .optional(),
    /** The plugin's `config:`, checked when the hive config is loaded. */
    config: configSchemaSchema.optional(),
  })
  .strict();

export type Manifest = z.infer<typeof manifestSchema>;

/** A plugin found and its manifest read. */
export interface PluginSource {
  /** The plugin's folder, absolute: where its program runs. */
  dir: string;
  /** Where the manifest was read ("…/package.json" when it is the package.json key). */
  manifestFile: string;
  manifest: Manifest;
}

/** A plugin folder or package that cannot be used, said so that the author can fix it. */
export class PluginSourceError extends Error {
  constructor(message: string, readonly problems: readonly ConfigProblem[] = []) {
    super(message);
    this.name = 'PluginSourceError';
  }
}

/** npm's package names: optional @scope/, lower case, no leading dot or underscore, at most 214 characters. */
const PACKAGE_NAME = /^(?:@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/;

function isDir(p: string): boolean {
  try { return statSync(p).isDirectory(); } catch { return false; }
}

/** The folder of npm package `name`, as Node finds it: node_modules/NAME in `from` or the nearest ancestor holding it. */
export function findPackageDir(name: string, from: string): string {
  if (name.length > 214 || !PACKAGE_NAME.test(name)) throw new PluginSourceError(`${quote(name)} is not an npm package name`);
  for (let d = resolve(from); ; d = dirname(d)) {
    const p = join(d, 'node_modules', name);
    if (isDir(p)) return p;
    if (dirname(d) === d) break;
  }
  throw new PluginSourceError(`package ${quote(name)} is not installed in ${from} or a folder above it (npm install ${name} there)`);
}

/** Reads and checks the manifest of the plugin in folder `dir`. Throws PluginSourceError naming each bad key. */
export function readManifest(dir: string): PluginSource {
  if (!isDir(dir)) throw new PluginSourceError(`${dir}: ${existsSync(dir) ? 'not a folder' : 'no such folder'}`);
  let file = MANIFEST_FILES.map((f) => join(dir, f)).find((f) => existsSync(f));
  let raw: unknown;
  if (file) {
    let text: string;
    try { text = readBounded(file); } catch (err) { throw new PluginSourceError(`${file}: ${(err as Error).message}`); }
    const parsed = parseBoundedYaml(text, file);
    if ('problems' in parsed) throw new PluginSourceError(`${file}: ${parsed.problems.map(formatProblem).join('; ')}`, parsed.problems);
    raw = parsed.value;
  } else {
    const pkg = join(dir, 'package.json');
    let json: unknown;
    try { json = JSON.parse(readFileSync(pkg, 'utf8')); } catch { /* no package.json, or not JSON: no manifest */ }
    if (!json || typeof json !== 'object' || !(PACKAGE_JSON_KEY in json)) {
      throw new PluginSourceError(`${dir}: no plugin manifest (${MANIFEST_FILES.join(', ')}, or a "${PACKAGE_JSON_KEY}" key in package.json)`);
    }
    file = pkg;
    raw = (json as Record<string, unknown>)[PACKAGE_JSON_KEY];
  }
  const r = manifestSchema.safeParse(raw);
  if (!r.success) {
    const problems = zodProblems(r.error.issues, raw);
    throw new PluginSourceError(`${file}: ${problems.map(formatProblem).join('; ')}`, problems);
  }
  return { dir: resolve(dir), manifestFile: file, manifest: r.data };
}

/** The folder a spec's `dir:` or `package:` names, from `baseDir` (the config file's folder). */
export function sourceDir(spec: { dir?: unknown; package?: unknown }, baseDir: string): string {
  if (typeof spec.dir === 'string') return resolve(baseDir, spec.dir);
  if (typeof spec.package === 'string') return findPackageDir(spec.package, baseDir);
  throw new PluginSourceError('expected dir or package');
}

/** Whether a raw plugin entry names a folder or a package. */
export function namesSource(p: Record<string, unknown>): boolean {
  return p.dir !== undefined || p.package !== undefined;
}

/**
 * The plugin entry with its source read: the problems with its dir/package and its `config:` (key
 * paths relative to the entry), the entry with `name` filled in from the manifest when it had
 * none, and its `config:` checked against the manifest's schema with the schema's defaults.
 */
export function readSource(entry: Record<string, unknown>, baseDir: string): { entry: Record<string, unknown>; source?: PluginSource; config?: unknown; problems: ConfigProblem[] } {
  const key = entry.dir !== undefined ? 'dir' : 'package';
  const value = entry[key];
  if (typeof value !== 'string' || value === '') return { entry, problems: [] }; // zod names it
  let source: PluginSource;
  try {
    source = readManifest(sourceDir(entry, baseDir));
  } catch (err) {
    if (!(err instanceof PluginSourceError)) throw err;
    return { entry, problems: [{ keyPath: [key], message: err.message }] };
  }
  const named = entry.name === undefined ? { ...entry, name: source.manifest.name } : entry;
  if (!source.manifest.config) return { entry: named, source, config: entry.config, problems: [] };
  const checked = checkConfig(entry.config ?? {}, source.manifest.config);
  const problems = checked.problems.map((p) => ({ keyPath: ['config', ...p.keyPath], message: `${p.message} (the schema of ${shortPath(source.manifestFile, baseDir)})` }));
  return { entry: named, source, config: checked.value, problems };
}

/** What the supervisor runs for a plugin from a folder or a package: the manifest's argv in the plugin's folder. */
export function execOf(source: PluginSource): { exec: string[]; cwd: string } {
  return { exec: [...source.manifest.exec], cwd: source.dir };
}

// ---------------------------------------------------------------- checking a config against the schema

const typeName = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

function show(v: unknown): string {
  if (typeof v === 'string') return quote(v);
  try { return JSON.stringify(v)?.slice(0, 60) ?? String(v); } catch { return String(v); }
}

/**
 * Checks `value` (a plugin's `config:`) against the manifest's schema, and fills in the defaults
 * of missing object properties. Problems carry key paths relative to `config`.
 */
export function checkConfig(value: unknown, schema: ConfigSchema, path: KeyPath = []): { value: unknown; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const add = (message: string, at: KeyPath = path) => problems.push({ keyPath: at, message });
  if (value === undefined && schema.default !== undefined) value = structuredClone(schema.default);
  const t = schema.type;
  const ok =
    t === undefined ||
    (t === 'object' && typeName(value) === 'object') ||
    (t === 'array' && Array.isArray(value)) ||
    (t === 'integer' && Number.isInteger(value)) ||
    (t === 'number' && typeof value === 'number' && Number.isFinite(value)) ||
    (t === 'string' && typeof value === 'string') ||
    (t === 'boolean' && typeof value === 'boolean');
  if (!ok) {
    add(`expected ${t === 'integer' ? 'an integer' : t === 'array' || t === 'object' ? `an ${t}` : `a ${t}`}, got ${typeName(value)} ${show(value)}`);
    return { value, problems };
  }
  if (schema.enum && !schema.enum.some((e) => e === value)) add(`expected one of ${schema.enum.map(show).join(', ')}, got ${show(value)}`);
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) add(`expected at least ${schema.minimum}, got ${value}`);
    if (schema.maximum !== undefined && value > schema.maximum) add(`expected at most ${schema.maximum}, got ${value}`);
  }
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) add(`expected at least ${schema.minLength} characters, got ${show(value)}`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength) add(`expected at most ${schema.maxLength} characters, got ${value.length}`);
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) add(`expected text matching /${schema.pattern}/, got ${show(value)}`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) add(`expected at least ${schema.minItems} items, got ${value.length}`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems) add(`expected at most ${schema.maxItems} items, got ${value.length}`);
    if (schema.items) {
      value = value.map((item, i) => {
        const r = checkConfig(item, schema.items!, [...path, i]);
        problems.push(...r.problems);
        return r.value;
      });
    }
  }
  if (typeName(value) === 'object') {
    const obj = { ...(value as Record<string, unknown>) };
    const props = schema.properties ?? {};
    // Own keys only: a config key named toString or constructor is not there because an object has it.
    const has = (o: object, key: string) => Object.hasOwn(o, key);
    for (const key of schema.required ?? []) if (!has(obj, key) && !(has(props, key) && props[key]?.default !== undefined)) add('is required', [...path, key]);
    for (const [key, sub] of Object.entries(props)) {
      if (!has(obj, key) && sub.default === undefined) continue;
      const r = checkConfig(obj[key], sub, [...path, key]);
      problems.push(...r.problems);
      obj[key] = r.value;
    }
    if (schema.additionalProperties === false) {
      for (const key of Object.keys(obj)) if (!has(props, key)) add(`unknown key ${quote(key)}; expected one of: ${Object.keys(props).join(', ') || '(none)'}`, [...path, key]);
    }
    value = obj;
  }
  return { value, problems };
}

// ---------------------------------------------------------------- `hive load` on the client's side

/**
 * A spec given to `hive load` is read by the supervisor, whose folder is not the operator's: a
 * relative `dir:` is made absolute here, from `baseDir` (the spec file's folder, or the current
 * one), and a `package:` is found here and sent as the `dir:` of its folder, with its name.
 * Anything else is left for the supervisor to check.
 */
export function localizeSpec(spec: Record<string, unknown>, baseDir: string): Record<string, unknown> {
  if (typeof spec.dir === 'string' && !isAbsolute(spec.dir)) return { ...spec, dir: resolve(baseDir, spec.dir) };
  if (typeof spec.package === 'string' && spec.dir === undefined) {
    const dir = findPackageDir(spec.package, baseDir);
    const { package: _, ...rest } = spec;
    return { ...rest, dir };
  }
  return spec;
}

/** "./weather" for messages: relative to `from` when inside it. */
export function shortPath(p: string, from = process.cwd()): string {
  const r = relative(from, p);
  return r && !r.startsWith('..') && !isAbsolute(r) ? `./${r}` : r === '' ? `./ (${basename(p)})` : p;
}
