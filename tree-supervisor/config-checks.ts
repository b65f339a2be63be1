/**
 * The config checks zod cannot make: those of one plugin entry (checkPluginSpec, shared by the
 * config file and `hive load`, as OTP's check_childspec is by start-up and start_child) and those
 * that need the whole file (unique names, known parents, no cycles). They read the raw input, so
 * they report even when zod found problems elsewhere in the same file.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeValue, formatPath, quote, type ConfigProblem, type KeyPath } from './config-errors.js';
import { ROOT } from './reparent.js';

const PLUGINS_DIR = fileURLToPath(new URL('../plugins/', import.meta.url));

/** The built-in plugins: the folders of plugins/ with an index (index.js when built; index.ts when tests run the sources). */
export const BUILT_IN_PLUGINS: readonly string[] = (() => {
  try {
    return readdirSync(PLUGINS_DIR, { withFileTypes: true }).filter((d) => d.isDirectory() && (existsSync(join(PLUGINS_DIR, d.name, 'index.js')) || existsSync(join(PLUGINS_DIR, d.name, 'index.ts')))).map((d) => d.name).sort();
  } catch {
    return [];
  }
})();

/**
 * Whether `use` names a built-in plugin of this build: its compiled entry exists (what the running
 * side checks; node-process.ts's builtinPluginExists, here so that checking a config loads no execa).
 */
export function builtinPluginBuilt(use: string): boolean {
  return /^[A-Za-z][A-Za-z0-9_-]*$/.test(use) && existsSync(join(PLUGINS_DIR, use, 'index.js'));
}

const RESERVED: Record<string, string> = {
  [ROOT]: `'${ROOT}' is the name of the root node`,
  Supervisor: `'Supervisor' is reserved (it is the supervisor's bus name)`,
};

/**
 * The checks of one plugin entry that need no other entry, for the config file and for a spec
 * given to `hive load` (Supervisor1.Load) alike: exactly one of use/exec/dir/package/remote, nothing a remote
 * node would ignore, a built-in that exists, no reserved name, no sandbox with `trust: direct`. Reads the raw entry (before zod's
 * defaults, so that a `restart:` written on a remote node is seen). Key paths are relative to the entry.
 */
export function checkPluginSpec(p: Record<string, unknown>, show: (path: KeyPath, value: string) => string = (_, v) => quote(v)): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const kinds = (['use', 'exec', 'dir', 'package', 'remote'] as const).filter((k) => (k === 'remote' ? p.remote === true : p[k] !== undefined));
  if (kinds.length !== 1) {
    problems.push({
      keyPath: [],
      message: `expected exactly one of use (a built-in plugin), exec (a program), dir (a plugin folder), package (an npm package) or remote: true; got ${kinds.length === 0 ? 'none' : kinds.join(' and ')}`,
    });
  }
  // A plugin from a folder or a package runs in its own folder, where its manifest's paths point.
  if ((p.dir !== undefined || p.package !== undefined) && p.cwd !== undefined) {
    problems.push({ keyPath: ['cwd'], message: 'has no effect with dir or package: the plugin runs in its own folder' });
  }
  if (p.remote === true) {
    // The supervisor starts no process for it, so these would silently do nothing.
    for (const key of ['config', 'cwd', 'restart'] as const) {
      if (p[key] !== undefined) problems.push({ keyPath: [key], message: `has no effect on a remote node: it is started where it runs (docs/deploy.md)${key === 'config' ? ', with its config in HIVE_CONFIG there' : ''}` });
    }
  }
  const sandboxed = p.sandbox !== undefined && p.sandbox !== false;
  if (sandboxed && p.trust === 'direct') {
    problems.push({ keyPath: ['sandbox'], message: 'a sandboxed node reaches the bus through its own filter; `trust: direct` contradicts it (remove one of them)' });
  }
  if (sandboxed && p.remote === true) {
    problems.push({ keyPath: ['sandbox'], message: 'has no effect on a remote node: it runs on another host, in whatever sandbox that host gives it (docs/deploy.md)' });
  }
  if (typeof p.use === 'string' && !BUILT_IN_PLUGINS.includes(p.use)) {
    problems.push({ keyPath: ['use'], message: `${show(['use'], p.use)} is not a built-in plugin; they are: ${BUILT_IN_PLUGINS.join(', ')}` });
  }
  const reserved = typeof p.name === 'string' ? RESERVED[p.name] : undefined;
  if (reserved) problems.push({ keyPath: ['name'], message: `${reserved}; choose another name` });
  return problems;
}

export const SANDBOX_ON_SESSION_BUS = 'a sandboxed node cannot run on `bus: session`: the session bus is the user\'s own, reachable by every program of the user\'s outside the sandbox (use `bus: private`, the default, or a bus address of the hive\'s own)';

/**
 * Checks that need the whole config. They read the raw (substituted) input defensively, so
 * they run, and report, even when zod found problems elsewhere in the same file.
 */
export function crossFieldProblems(raw: unknown, secrets: ReadonlyMap<string, string>): ConfigProblem[] {
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
    // On the session bus, the node's own sockets folder ($XDG_RUNTIME_DIR) holds the hive's bus: no sandbox can hide it and keep it.
    if (raw.bus === 'session' && p.sandbox !== undefined && p.sandbox !== false) problems.push({ keyPath: ['plugins', i, 'sandbox'], message: SANDBOX_ON_SESSION_BUS });
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

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
