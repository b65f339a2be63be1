/**
 * `hive new NAME --lang ts|python|shell [--dir DIR]`: a plugin folder to start from, made from
 * tree-supervisor/templates/<lang>/: a working responder (`!name world` → `hello, world`), its
 * manifest (hive-plugin.yaml: the folder is a `dir:` plugin at once), a hive.yaml for a
 * development hive, and a test that passes, written against Hive's test harness.
 *
 * A TypeScript plugin gets node_modules/hive (and typescript, @types/node) linked from this Hive,
 * as `npm install` of its package.json would, so that it builds and tests without the network.
 */
import { existsSync, lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NAME_PATTERN } from '../protocol/names.js';
import { CliError } from './cli-client.js';
import { EXIT_CODES } from './exit-codes.js';

export const LANGS = ['ts', 'python', 'shell'] as const;
export type Lang = (typeof LANGS)[number];
const LANG_ALIASES: Record<string, Lang> = { ts: 'ts', typescript: 'ts', python: 'python', py: 'python', shell: 'shell', sh: 'shell', bash: 'shell' };

/** The folder of the `hive` package this runs from (the checkout, or node_modules/hive). */
export function hiveRoot(): string {
  for (let d = dirname(fileURLToPath(import.meta.url)); ; d = dirname(d)) {
    try {
      if ((JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')) as { name?: string }).name === 'hive') return d;
    } catch { /* not here */ }
    if (dirname(d) === d) throw new Error('cannot find the hive package around ' + fileURLToPath(import.meta.url));
  }
}

/** Hive's Python modules (hive_testing, and hive_node once it moves there from the examples). */
export function pythonSdkDir(root = hiveRoot()): string {
  return join(root, 'protocol/sdk/python');
}

export interface NewResult { name: string; lang: Lang; dir: string; files: string[]; next: string[] }

function templateFiles(dir: string, under = ''): string[] {
  return readdirSync(join(dir, under), { withFileTypes: true }).flatMap((e) => {
    const rel = under ? `${under}/${e.name}` : e.name;
    return e.isDirectory() ? templateFiles(dir, rel) : [rel];
  });
}

/** The file name a template becomes: placeholders filled, `.tmpl` dropped, gitignore → .gitignore (npm drops dot files from packages). */
function targetName(rel: string, fill: (s: string) => string): string {
  const name = fill(rel).replace(/\.tmpl$/, '');
  return name.replace(/(^|\/)gitignore$/, '$1.gitignore');
}

export async function newPlugin(opts: { name?: string; lang?: string; dir?: string; cwd?: string }): Promise<NewResult> {
  const name = opts.name;
  if (!name) throw new CliError('which name? (hive new NAME --lang ts|python|shell)', EXIT_CODES.usage);
  if (!NAME_PATTERN.test(name)) throw new CliError(`bad name ${JSON.stringify(name.slice(0, 80))}: expected letters, digits and _, starting with a letter, at most 64 characters (it is the node's name and its command)`, EXIT_CODES.usage);
  if (!opts.lang) throw new CliError('which language? --lang ts, python or shell', EXIT_CODES.usage);
  const lang = LANG_ALIASES[opts.lang.toLowerCase()];
  if (!lang) throw new CliError(`bad --lang ${JSON.stringify(opts.lang.slice(0, 40))}: expected ts, python or shell`, EXIT_CODES.usage);
  const cwd = opts.cwd ?? process.cwd();
  const dir = resolve(cwd, opts.dir ?? name);
  if (existsSync(dir) || isLink(dir)) {
    if (!isDirectory(dir)) throw new CliError(`${dir} exists and is not a folder; choose another --dir`, EXIT_CODES.usage);
    const entries = readdirSync(dir);
    if (entries.length > 0) throw new CliError(`${dir} exists and is not empty (${entries.slice(0, 5).join(', ')}${entries.length > 5 ? ', …' : ''}); choose another --dir, or empty it`, EXIT_CODES.usage);
  }

  const root = hiveRoot();
  const fills: Record<string, string> = {
    '@@NAME@@': name,
    '@@COMMAND@@': name.toLowerCase(),
    '@@PACKAGE@@': `hive-plugin-${name.toLowerCase().replace(/_/g, '-')}`,
    '@@CLASS@@': name[0]!.toUpperCase() + name.slice(1),
    '@@HIVE_ROOT@@': root,
    '@@PYTHON_SDK@@': pythonSdkDir(root),
  };
  const fill = (s: string) => s.replace(/@@[A-Z_]+@@/g, (m) => fills[m] ?? m);
  const templates = join(root, 'tree-supervisor/templates', lang);
  const files: string[] = [];
  await mkdir(dir, { recursive: true });
  for (const rel of templateFiles(templates)) {
    const target = join(dir, targetName(rel, fill));
    await mkdir(dirname(target), { recursive: true });
    // 'wx': never over a file (another `hive new` racing for the same folder).
    await writeFile(target, fill(readFileSync(join(templates, rel), 'utf8')), { flag: 'wx', mode: /\.(sh|py)$/.test(target) ? 0o755 : 0o644 });
    files.push(relative(dir, target));
  }
  if (lang === 'ts') files.push(...(await linkDependencies(dir, root)));
  for (const f of files.filter((x) => /\.(sh|py)$/.test(x))) await chmod(join(dir, f), 0o755);

  const shown = relative(cwd, dir) || '.';
  const next = lang === 'ts'
    ? [`cd ${shown}`, 'hive dev .            # a development hive: type !' + fills['@@COMMAND@@'] + ' world', 'npm test              # compiles, then runs test/' + name + '.test.ts']
    : [`cd ${shown}`, 'hive dev .            # a development hive: type !' + fills['@@COMMAND@@'] + ' world', `python3 -m unittest   # runs test_${name}.py`];
  return { name, lang, dir, files: files.sort(), next };
}

function isLink(p: string): boolean {
  try { return lstatSync(p).isSymbolicLink(); } catch { return false; }
}

function isDirectory(p: string): boolean {
  try { return statSync(p).isDirectory(); } catch { return false; }
}

/**
 * node_modules/hive → this Hive, and typescript and @types/node from its own node_modules: what
 * `npm install` would put there for the package.json's devDependencies, without the network. A
 * real `npm install` later replaces them.
 */
async function linkDependencies(dir: string, root: string): Promise<string[]> {
  const links: [string, string][] = [['node_modules/hive', root]];
  for (const dep of ['typescript', '@types/node']) {
    const p = join(root, 'node_modules', dep);
    if (existsSync(p)) links.push([`node_modules/${dep}`, p]);
  }
  const tsc = join(root, 'node_modules/typescript/bin/tsc');
  if (existsSync(tsc)) links.push(['node_modules/.bin/tsc', tsc]);
  for (const [at, to] of links) {
    await mkdir(dirname(join(dir, at)), { recursive: true });
    await symlink(to, join(dir, at));
  }
  return links.map(([at]) => at);
}

export function renderNew(r: NewResult): string {
  return `made ${r.lang === 'ts' ? 'a TypeScript' : r.lang === 'python' ? 'a Python' : 'a shell'} plugin '${r.name}' in ${r.dir}:\n${r.files.filter((f) => !f.startsWith('node_modules/')).map((f) => `  ${f}\n`).join('')}\nnext:\n${r.next.map((l) => `  ${l}\n`).join('')}`;
}
