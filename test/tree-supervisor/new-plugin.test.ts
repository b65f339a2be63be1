// `hive new` (issue 18): each language generated into a temp dir, and the test it generated run as
// its author would run it (TypeScript: tsc and node --test; Python and shell: python3 -m unittest),
// against this checkout's hive. Bad names, languages and folders are refused by name.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync, lstatSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { readManifest } from '../../tree-supervisor/plugin-manifest.js';
import { ROOT } from '../helpers/paths.js';

const HIVE = join(ROOT, 'bin/hive');
let base: string;
beforeAll(async () => { base = await mkdtemp(join(tmpdir(), 'hive-new-')); });
afterAll(async () => { await rm(base, { recursive: true, force: true }); });

const hive = async (args: string[], cwd = base) => {
  const r = await execa(process.execPath, [HIVE, ...args], { cwd, reject: false, timeout: 60_000 });
  return { code: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
};

describe('hive new: refusals', () => {
  it('a bad name, a missing or unknown language, a folder that is not empty or not a folder', async () => {
    const bad = await hive(['new', 'my-plugin', '--lang', 'ts']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('hive new: bad name "my-plugin": expected letters, digits and _, starting with a letter');
    expect((await hive(['new', 'x'.repeat(65), '--lang', 'ts'])).stderr).toContain('bad name');
    expect((await hive(['new', '--lang', 'ts'])).stderr).toContain('which name?');
    expect((await hive(['new', 'ok'])).stderr).toContain('which language? --lang ts, python or shell');
    const cobol = await hive(['new', 'ok', '--lang', 'cobol']);
    expect(cobol.code).toBe(2);
    expect(cobol.stderr).toContain('bad --lang "cobol": expected ts, python or shell');
    await mkdir(join(base, 'full'));
    await writeFile(join(base, 'full/keep.txt'), 'mine');
    const full = await hive(['new', 'ok', '--lang', 'python', '--dir', 'full']);
    expect(full.code).toBe(2);
    expect(full.stderr).toContain(`hive new: ${join(base, 'full')} exists and is not empty (keep.txt); choose another --dir, or empty it`);
    expect(readFileSync(join(base, 'full/keep.txt'), 'utf8')).toBe('mine'); // untouched
    await writeFile(join(base, 'afile'), '');
    expect((await hive(['new', 'ok', '--lang', 'shell', '--dir', 'afile'])).stderr).toContain('exists and is not a folder');
    expect(existsSync(join(base, 'ok'))).toBe(false);
  });

  it('--help and --json', async () => {
    const help = await hive(['new', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('usage: hive new NAME --lang ts|python|shell [--dir DIR] [--json]');
    await mkdir(join(base, 'emptydir'));
    const made = await hive(['new', 'Shouty', '--lang', 'shell', '--dir', 'emptydir', '--json']); // an empty folder is fine
    expect(made.code, made.stderr).toBe(0);
    const r = JSON.parse(made.stdout) as { name: string; lang: string; dir: string; files: string[]; next: string[] };
    expect(r).toMatchObject({ name: 'Shouty', lang: 'shell', dir: join(base, 'emptydir') });
    expect(r.files).toEqual(['.gitignore', 'Shouty.sh', 'hive-plugin.yaml', 'hive.yaml', 'test_Shouty.py']);
    // The node keeps its name; its command is the name in lower case.
    expect(readManifest(join(base, 'emptydir')).manifest).toMatchObject({ name: 'Shouty', commands: [{ name: 'shouty' }] });
    expect(statSync(join(base, 'emptydir/Shouty.sh')).mode & 0o111).not.toBe(0);
  });
});

/** What every language gets: a manifest that names the plugin, and a dev hive.yaml that runs this folder. */
function checkCommon(dir: string, name: string): void {
  const m = readManifest(dir).manifest;
  expect(m.name).toBe(name);
  expect(m.commands).toEqual([{ name, help: `${name} [NAME] — says hello to NAME, or to you` }]);
  const dev = parse(readFileSync(join(dir, 'hive.yaml'), 'utf8')) as { bus: string; networks: Record<string, { type: string }>; plugins: Record<string, unknown>[] };
  expect(dev.bus).toBe('private');
  expect(dev.networks.console!.type).toBe('terminal');
  expect(dev.plugins).toEqual([{ name: 'help', use: 'help' }, { dir: '.' }]);
}

describe('hive new: each language, and its generated test run', () => {
  it('shell: a responder in bash, tested in Python with hive_testing', { timeout: 120_000 }, async () => {
    const made = await hive(['new', 'shhello', '--lang', 'shell']);
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toContain(`made a shell plugin 'shhello' in ${join(base, 'shhello')}`);
    const dir = join(base, 'shhello');
    checkCommon(dir, 'shhello');
    const t = await execa('/usr/bin/python3', ['-m', 'unittest', '-v'], { cwd: dir, reject: false, timeout: 100_000 });
    expect(t.exitCode, `${String(t.stdout)}\n${String(t.stderr)}`).toBe(0);
    expect(String(t.stderr)).toMatch(/Ran 3 tests[\s\S]*OK/);
  });

  it('python: a responder with hive_node, tested with hive_testing', { timeout: 120_000 }, async () => {
    const made = await hive(['new', 'pyhello', '--lang', 'python']);
    expect(made.code, made.stderr).toBe(0);
    const dir = join(base, 'pyhello');
    checkCommon(dir, 'pyhello');
    expect(readFileSync(join(dir, 'pyhello.py'), 'utf8')).toContain('from hive_node import HiveNode');
    const t = await execa('/usr/bin/python3', ['-m', 'unittest', '-v'], { cwd: dir, reject: false, timeout: 100_000 });
    expect(t.exitCode, `${String(t.stdout)}\n${String(t.stderr)}`).toBe(0);
    expect(String(t.stderr)).toMatch(/Ran 3 tests[\s\S]*OK/);
  });

  it('ts: a responder with hive/sdk, compiled with the linked tsc, tested with hive/testing and node:test', { timeout: 180_000 }, async () => {
    const made = await hive(['new', 'tshello', '--lang', 'ts']);
    expect(made.code, made.stderr).toBe(0);
    const dir = join(base, 'tshello');
    checkCommon(dir, 'tshello');
    // What npm install would link, without the network.
    expect(lstatSync(join(dir, 'node_modules/hive')).isSymbolicLink()).toBe(true);
    expect(existsSync(join(dir, 'node_modules/hive/package.json'))).toBe(true);
    const build = await execa(process.execPath, [join(dir, 'node_modules/.bin/tsc'), '-p', '.'], { cwd: dir, reject: false, timeout: 120_000 });
    expect(build.exitCode, `${String(build.stdout)}\n${String(build.stderr)}`).toBe(0);
    expect(existsSync(join(dir, 'dist/src/tshello.js'))).toBe(true);
    const t = await execa(process.execPath, ['--test', 'dist/test/'], { cwd: dir, reject: false, timeout: 100_000 });
    expect(t.exitCode, `${String(t.stdout)}\n${String(t.stderr)}`).toBe(0);
    expect(String(t.stdout)).toMatch(/# pass 3/);
  });
});
