/**
 * `node dist/scripts/bundle-plugins.js [NAME...]`, after `tsc`: one file per built-in plugin's
 * entry point (issue 17), `dist/plugins/NAME/bundle.js`: plugins/run.ts's work for that plugin, the
 * SDK, pino and the plugin, from tsc's output, minified. V8 keeps each module's source text and
 * per-module structures; one file instead of ~110 modules measured 16.2–16.3 → 14.4–15.0 MB PSS for
 * an idle attached ping (V8's heap 9.8 → 8.7–9.0 MB) and ~30 % less CPU from exec to the plugin's
 * start (docs/performance.md). The supervisor runs a built-in from its bundle when the bundle is
 * newer than the plugin's tsc output (tree-supervisor/node-process.ts), else `run.js NAME`.
 *
 * What stays out of the file, on purpose:
 * - dbus-next: protocol/dbus-next.ts loads it through `createRequire` with its XML half lazy, and
 *   bus-gate.ts patches its message module through the same require cache; bundled, it would be a
 *   second copy that neither sees (and xml2js would load at start again).
 * - what is imported dynamically (zod for the metadata rules, when a node gets its first child):
 *   a chunk next to the bundle, loaded as lazily as before.
 * - `exec:` plugins: written by users against `hive/sdk`, run by `run.js FILE` unbundled.
 *
 * Names are kept (not mangled), so a stack trace names its functions; `bundle.js.map` maps the
 * positions back to the TypeScript sources (through tsc's maps): `NODE_OPTIONS=--enable-source-maps`
 * uses it, at +2.5 MB PSS per plugin, so not by default.
 */
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rolldown, type Plugin } from 'rolldown';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIST = join(ROOT, 'dist');
export const BUNDLE_FILE = 'bundle.js';
const ENTRY = '\0hive-plugin-entry';

/** Packages loaded at run time from node_modules, not copied into the bundle (see above). */
const EXTERNAL_PACKAGES = ['dbus-next'];
const BUILTINS = new Set(builtinModules);
const external = (id: string) =>
  id.startsWith('node:') || BUILTINS.has(id) || EXTERNAL_PACKAGES.some((p) => id === p || id.startsWith(`${p}/`));

/** The built-in plugins of this build: each folder of dist/plugins with an index.js (examples have none). */
export function builtinPlugins(): string[] {
  return readdirSync(join(DIST, 'plugins'), { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(DIST, 'plugins', d.name, 'index.js')))
    .map((d) => d.name)
    .sort();
}

/** What plugins/run.ts does for a built-in, with the plugin imported statically. */
function entrySource(name: string): string {
  const sdk = (f: string) => JSON.stringify(join(DIST, 'protocol/sdk', f));
  return [
    `import { isPlugin } from ${sdk('define.js')};`,
    `import { run } from ${sdk('run.js')};`,
    `import plugin from ${JSON.stringify(join(DIST, 'plugins', name, 'index.js'))};`,
    'if (!isPlugin(plugin)) {',
    `  process.stderr.write(${JSON.stringify(`${name}: its default export is not a plugin (export default definePlugin(…))\n`)});`,
    '  process.exit(2);',
    '}',
    'await run(plugin);',
  ].join('\n');
}

const SOURCE_MAP_COMMENT = /\n\/\/# sourceMappingURL=\S+\s*$/;

function hivePlugin(name: string): Plugin {
  return {
    name: 'hive-plugin-entry',
    resolveId(id) { return id === ENTRY ? id : undefined; },
    load(id) {
      if (id === ENTRY) return entrySource(name);
      // tsc's output with tsc's map, so that the bundle's map reaches the TypeScript sources.
      if (!id.startsWith(DIST) || !id.endsWith('.js')) return undefined;
      const code = readFileSync(id, 'utf8');
      const mapFile = `${id}.map`;
      if (!SOURCE_MAP_COMMENT.test(code) || !existsSync(mapFile)) return code;
      const map = JSON.parse(readFileSync(mapFile, 'utf8')) as { sources: string[]; sourceRoot?: string };
      map.sources = map.sources.map((s) => resolve(dirname(id), map.sourceRoot ?? '', s));
      delete map.sourceRoot;
      return { code: code.replace(SOURCE_MAP_COMMENT, '\n'), map: JSON.stringify(map) };
    },
    // A CommonJS file's `__dirname` (pino's transports, for pretty output in a terminal) does not
    // exist in an ES module: the same folder, found from the bundle's place in dist/.
    transform(code, id) {
      if (!id.includes('/node_modules/') || !/\b__dirname\b/.test(code)) return undefined;
      const dir = JSON.stringify(relative(ROOT, dirname(id)));
      return { code: code.replace(/\b__dirname\b/g, `__hiveModuleDir(${dir})`), map: null };
    },
  };
}

/** Builds dist/plugins/NAME/bundle.js (and its lazy chunks, its map); returns the files written. */
export async function bundlePlugin(name: string): Promise<string[]> {
  if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(name) || !existsSync(join(DIST, 'plugins', name, 'index.js'))) {
    throw new Error(`no built-in plugin '${name}' in ${join(DIST, 'plugins')} (run tsc first)`);
  }
  const outDir = join(DIST, 'plugins', name);
  const build = await rolldown({
    input: ENTRY,
    platform: 'node',
    external,
    plugins: [hivePlugin(name)],
    logLevel: 'warn',
    onLog(level, log, handler) {
      // dbus-next's X11 address lookup requires an optional package; it is external anyway.
      if (log.code === 'UNRESOLVED_IMPORT' || log.code === 'SOURCEMAP_BROKEN') return;
      handler(level, log);
    },
  });
  try {
    const out = await build.generate({
      dir: outDir, // where the map's paths are relative to
      format: 'esm',
      entryFileNames: BUNDLE_FILE,
      chunkFileNames: 'bundle-[name]-[hash].js',
      sourcemap: true,
      minify: { compress: true, mangle: false },
      banner: "import { fileURLToPath as __hiveFileURLToPath } from 'node:url';\n"
        + "const __hiveModuleDir = (dir) => __hiveFileURLToPath(new URL(`../../../${dir}`, import.meta.url));",
    });
    // Each file whole or not at all (a plugin may be starting from it meanwhile): written aside and
    // renamed, bundle.js last, so that what it imports is there first.
    const files = [...out.output].sort((a, b) => Number(a.fileName === BUNDLE_FILE) - Number(b.fileName === BUNDLE_FILE));
    for (const o of files) {
      const file = join(outDir, o.fileName), aside = `${file}.${process.pid}.tmp`;
      writeFileSync(aside, o.type === 'chunk' ? o.code : o.source);
      renameSync(aside, file);
    }
    // The last build's chunks (their names carry a hash of their content).
    const made = new Set(files.map((o) => o.fileName));
    for (const f of readdirSync(outDir)) if (/^bundle-.*\.js(\.map)?$/.test(f) && !made.has(f)) rmSync(join(outDir, f));
    return out.output.map((o) => join(outDir, o.fileName));
  } finally {
    await build.close();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const names = process.argv.slice(2).length ? process.argv.slice(2) : builtinPlugins();
  const started = performance.now();
  for (const name of names) await bundlePlugin(name);
  process.stderr.write(`bundle-plugins: ${names.length} built-in plugins bundled in ${Math.round(performance.now() - started)} ms\n`);
}
