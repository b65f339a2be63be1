// Plugins as packages (issue 18): a plugin folder with a manifest (dir:) or an npm package holding
// one (package:), read when the config is loaded or given to `hive load`, and run by name. A Python
// and a shell plugin from folders answer in a real hive; bad manifests and configs are refused
// with the key named.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, mkdir, rm, writeFile, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, parseConfig } from '../../tree-supervisor/config.js';
import { parseLoadSpec } from '../../tree-supervisor/load-spec.js';
import { HiveError } from '../../protocol/errors.js';
import { checkConfig, findPackageDir, localizeSpec, PluginSourceError, readManifest } from '../../tree-supervisor/plugin-manifest.js';
import { startHive, type TestHive } from '../helpers/hive.js';
import { ROOT } from '../helpers/paths.js';

let base: string;
beforeAll(async () => { base = await mkdtemp(join(tmpdir(), 'hive-source-')); });
afterAll(async () => { await rm(base, { recursive: true, force: true }); });

const TERMINAL = { console: { type: 'terminal', quiet_ms: 200 } };
// hive_node: Hive's Python SDK, next to hive_testing.
const PYTHON_SDK = join(ROOT, 'protocol/sdk/python');

/** A Python responder: `!COMMAND x` → `WORD x`, with hive_node from Hive (not a copy). */
async function pythonPlugin(dir: string, name: string, command: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'hive-plugin.yaml'), `name: ${name}\nlanguage: python\nexec: [/usr/bin/python3, plugin.py]\ncommands: [{ name: ${command}, help: "${command} TEXT — says WORD TEXT" }]\nconfig:\n  type: object\n  additionalProperties: false\n  properties:\n    word: { type: string, default: from-python, maxLength: 20 }\n`);
  await writeFile(join(dir, 'plugin.py'), [
    'import json, os, sys',
    `sys.path.insert(0, ${JSON.stringify(PYTHON_SDK)})`,
    'from hive_node import HiveNode',
    `node = HiveNode(kind='responder', commands=[('${command}', '${command} TEXT')])`,
    "word = json.loads(os.environ.get('HIVE_CONFIG', '{}')).get('word', 'none')",
    `@node.command('${command}')`,
    'async def answer(cmd):',
    "    await cmd.reply(f'{word} {cmd.args} cwd={os.path.basename(os.getcwd())}')",
    'node.run()',
    '',
  ].join('\n'));
}

/** The shell responder of the examples, from a folder whose manifest is JSON. */
async function shellPlugin(dir: string, name: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await symlink(join(ROOT, 'plugins/examples/shell/responder.sh'), join(dir, 'responder.sh'));
  await writeFile(join(dir, 'hive-plugin.json'), JSON.stringify({ name, language: 'shell', exec: ['bash', './responder.sh'], commands: [{ name: 'shping' }] }));
}

describe('the manifest', () => {
  it('is read from hive-plugin.yaml, hive-plugin.json or package.json\'s "hive-plugin" key', async () => {
    await pythonPlugin(join(base, 'm1'), 'm1', 'mone');
    expect(readManifest(join(base, 'm1')).manifest).toMatchObject({ name: 'm1', language: 'python', exec: ['/usr/bin/python3', 'plugin.py'] });
    await shellPlugin(join(base, 'm2'), 'm2');
    expect(readManifest(join(base, 'm2')).manifest.exec).toEqual(['bash', './responder.sh']);
    await mkdir(join(base, 'm3'));
    await writeFile(join(base, 'm3/package.json'), JSON.stringify({ name: 'hive-plugin-m3', 'hive-plugin': { name: 'm3', exec: ['node', 'index.js'] } }));
    expect(readManifest(join(base, 'm3')).manifestFile).toBe(join(base, 'm3/package.json'));
  });

  it('a bad manifest is refused, naming each bad key', async () => {
    await mkdir(join(base, 'bad'));
    await writeFile(join(base, 'bad/hive-plugin.yaml'), 'name: 9lives\nexec: python3 x.py\ncomands: []\nlanguage: cobol\nconfig: { type: object, properties: { n: { type: float } } }\n');
    let message = '';
    try { readManifest(join(base, 'bad')); } catch (err) { expect(err).toBeInstanceOf(PluginSourceError); message = (err as Error).message; }
    expect(message).toContain('hive-plugin.yaml');
    expect(message).toContain('`name`: expected a name of letters');
    expect(message).toContain('`exec`: expected a list, got string');
    expect(message).toContain("`comands`: unknown key 'comands'");
    expect(message).toContain('`language`: expected one of');
    expect(message).toContain('`config.properties.n.type`');
  });

  it('a folder without one, a file, a missing folder: said so', async () => {
    await mkdir(join(base, 'empty'));
    expect(() => readManifest(join(base, 'empty'))).toThrow(/no plugin manifest \(hive-plugin.yaml, hive-plugin.yml, hive-plugin.json, or a "hive-plugin" key in package.json\)/);
    expect(() => readManifest(join(base, 'nowhere'))).toThrow(/no such folder/);
    await writeFile(join(base, 'afile'), 'x');
    expect(() => readManifest(join(base, 'afile'))).toThrow(/not a folder/);
    await mkdir(join(base, 'notjson'));
    await writeFile(join(base, 'notjson/hive-plugin.json'), '{"name": "x", "exec": [');
    expect(() => readManifest(join(base, 'notjson'))).toThrow(/hive-plugin.json/);
  });

  it('a package is found in node_modules here or in a folder above, as Node does; a bad name is refused', async () => {
    await mkdir(join(base, 'proj/node_modules/hive-plugin-m3'), { recursive: true });
    await mkdir(join(base, 'proj/sub/deeper'), { recursive: true });
    expect(findPackageDir('hive-plugin-m3', join(base, 'proj/sub/deeper'))).toBe(join(base, 'proj/node_modules/hive-plugin-m3'));
    expect(() => findPackageDir('hive-plugin-none', join(base, 'proj'))).toThrow(/package 'hive-plugin-none' is not installed/);
    expect(() => findPackageDir('../../etc', base)).toThrow(/not an npm package name/);
    expect(() => findPackageDir('Big', base)).toThrow(/not an npm package name/);
  });

  it('the config schema: types, enums, bounds, unknown keys, required, defaults, nested paths', () => {
    const schema = { type: 'object' as const, additionalProperties: false, required: ['city'], properties: {
      city: { type: 'string' as const, minLength: 1 }, units: { enum: ['metric', 'imperial'], default: 'metric' },
      days: { type: 'integer' as const, minimum: 1, maximum: 7 }, tags: { type: 'array' as const, items: { type: 'string' as const, pattern: '^[a-z]+$' } },
    } };
    expect(checkConfig({ city: 'paris' }, schema)).toEqual({ value: { city: 'paris', units: 'metric' }, problems: [] });
    const { problems } = checkConfig({ units: 'kelvin', days: 1.5, tags: ['ok', 'NO'], colour: 'red' }, schema);
    expect(problems.map((p) => `${p.keyPath.join('.')}: ${p.message}`)).toEqual([
      'city: is required',
      "units: expected one of 'metric', 'imperial', got 'kelvin'",
      'days: expected an integer, got number 1.5',
      "tags.1: expected text matching /^[a-z]+$/, got 'NO'",
      "colour: unknown key 'colour'; expected one of: city, units, days, tags",
    ]);
    expect(checkConfig('x', schema).problems[0]!.message).toBe("expected an object, got string 'x'");
    // Keys an object has by its prototype are not there: unknown, or missing when required.
    const proto = checkConfig(JSON.parse('{"toString": 1, "constructor": 2, "__proto__": 3}'), { ...schema, required: ['city', 'toString'] });
    expect(proto.problems.map((p) => `${p.keyPath.join('.')}: ${p.message.split(';')[0]}`)).toEqual([
      'city: is required',
      "toString: unknown key 'toString'",
      "constructor: unknown key 'constructor'",
      "__proto__: unknown key '__proto__'",
    ]);
    expect(checkConfig({ city: 'x' }, { ...schema, required: ['city', 'toString'] }).problems.map((p) => p.keyPath.join('.'))).toEqual(['toString']);
  });
});

describe('dir: and package: in the config', () => {
  it('a folder runs its manifest\'s program in its own folder, named by the manifest, its config checked with defaults', async () => {
    await pythonPlugin(join(base, 'weather'), 'weather', 'wx');
    const { config } = parseConfig({ networks: TERMINAL, plugins: [{ dir: './weather' }, { name: 'w2', dir: join(base, 'weather'), config: { word: 'hi' } }] }, { baseDir: base });
    expect(config.plugins[0]).toMatchObject({ name: 'weather', dir: join(base, 'weather'), exec: ['/usr/bin/python3', 'plugin.py'], cwd: join(base, 'weather'), config: { word: 'from-python' } });
    expect(config.plugins[1]).toMatchObject({ name: 'w2', config: { word: 'hi' } });
  });

  it('a package from node_modules, found from the config\'s folder', async () => {
    await pythonPlugin(join(base, 'pkgs/node_modules/hive-plugin-weather'), 'pkgweather', 'pw');
    const { config } = parseConfig({ networks: TERMINAL, plugins: [{ package: 'hive-plugin-weather' }] }, { baseDir: join(base, 'pkgs') });
    expect(config.plugins[0]).toMatchObject({ name: 'pkgweather', package: 'hive-plugin-weather', cwd: join(base, 'pkgs/node_modules/hive-plugin-weather') });
  });

  it('refused, each key named: a bad manifest, a config its schema refuses, cwd with dir, dir with exec, two of one name', async () => {
    let message = '';
    try {
      parseConfig({ networks: TERMINAL, plugins: [
        { dir: './bad' },
        { dir: './weather', config: { word: 'much too long for the schema', extra: 1 } },
        { dir: './weather', cwd: '/tmp' },
        { name: 'both', dir: './weather', exec: ['x'] },
        { package: 'hive-plugin-nope' },
      ] }, { baseDir: base, file: 'hive.yaml' });
    } catch (err) { expect(err).toBeInstanceOf(ConfigError); message = (err as Error).message; }
    expect(message).toContain('`plugins[0].dir`: ' + join(base, 'bad/hive-plugin.yaml') + ': `name`');
    expect(message).not.toContain('`plugins[0].name`'); // the manifest names it; its problem is said once
    expect(message).toContain('`plugins[1].config.word`: expected at most 20 characters, got 28');
    expect(message).toContain("`plugins[1].config.extra`: unknown key 'extra'");
    expect(message).toContain('`plugins[2].cwd`: has no effect with dir or package');
    expect(message).toContain('`plugins[3]`: expected exactly one of use (a built-in plugin), exec (a program), dir (a plugin folder), package (an npm package) or remote: true; got exec and dir');
    expect(message).toContain("`plugins[4].package`: package 'hive-plugin-nope' is not installed");
    expect(message).toContain("is already the name of plugins[1]"); // plugins[2] is 'weather' again
  });

  it('hive load: the same checks, and `hive load` sends a folder as an absolute dir:', async () => {
    expect(parseLoadSpec(`dir: ${join(base, 'weather')}\n`, ['mouth'])).toMatchObject({ name: 'weather', exec: ['/usr/bin/python3', 'plugin.py'], cwd: join(base, 'weather') });
    expect(() => parseLoadSpec(`dir: ${join(base, 'bad')}\n`, ['mouth'])).toThrow(HiveError);
    expect(() => parseLoadSpec(`dir: ${join(base, 'weather')}\n`, ['mouth', 'weather'])).toThrow(/'weather' is already a node/);
    expect(localizeSpec({ dir: './weather' }, base)).toEqual({ dir: join(base, 'weather') });
    expect(localizeSpec({ package: 'hive-plugin-weather', parent: 'mouth' }, join(base, 'pkgs'))).toEqual({ dir: join(base, 'pkgs/node_modules/hive-plugin-weather'), parent: 'mouth' });
  });
});

describe('folder plugins in a real hive', () => {
  let hive: TestHive;
  beforeAll(async () => {
    await pythonPlugin(join(base, 'hive1/pyweather'), 'pyweather', 'pyw');
    await shellPlugin(join(base, 'hive1/shelly'), 'shelly');
    await pythonPlugin(join(base, 'hive1/node_modules/hive-plugin-pkg'), 'pkgplugin', 'pkgw');
    await pythonPlugin(join(base, 'hive1/later'), 'later', 'later');
    hive = await startHive({ networks: TERMINAL, plugins: [{ name: 'help', use: 'help' }, { dir: join(base, 'hive1/pyweather'), config: { word: 'sunny' } }, { dir: join(base, 'hive1/shelly') }] });
  }, 60_000);
  afterAll(async () => { await hive?.stop(); });

  it('a Python and a shell plugin from folders, loaded by their manifests\' names, answer', async () => {
    hive.say('!pyw paris');
    await hive.expectOutput('sunny paris cwd=pyweather', { timeout: 20_000 });
    hive.say('!shping hello');
    await hive.expectOutput('shpong hello', { timeout: 20_000 });
    const nodes = await hive.tree();
    expect(nodes.find((n) => n.name === 'pyweather')?.state).toBe('running');
    expect(nodes.find((n) => n.name === 'shelly')?.state).toBe('running');
  });

  it('hive load --dir and --package (found from where hive load runs) add them by name; a bad manifest is refused with its key', async () => {
    const mark = hive.stdout.length;
    const byDir = await hive.cli('load', '--config', hive.configFile, '--dir', join(base, 'hive1/later'), '--plugin-config', '{"word": "loaded"}');
    expect(byDir.stdout, byDir.stderr).toBe('loaded: later');
    const byPackage = await execIn(join(base, 'hive1'), 'load', '--config', hive.configFile, '--package', 'hive-plugin-pkg', '--name', 'pkg2');
    expect(byPackage.stdout, byPackage.stderr).toBe('loaded: pkg2');
    // A node loaded at runtime gets what is said once it has attached (the mouth's replay is for restarts).
    for (const n of ['later', 'pkg2']) await hive.waitForLog((l) => l.node === n && l.msg === 'attached to parent', 20_000);
    hive.say('!later x');
    await hive.expectOutput('loaded x cwd=later', { since: mark, timeout: 20_000 });
    hive.say('!pkgw y');
    await hive.expectOutput('from-python y cwd=hive-plugin-pkg', { since: mark, timeout: 20_000 });
    const bad = await hive.cli('load', '--config', hive.configFile, '--dir', join(base, 'bad'));
    expect(bad.exitCode).toBe(4);
    expect(bad.stderr).toContain('`dir`: ' + join(base, 'bad/hive-plugin.yaml'));
    expect(bad.stderr).toContain("`comands`: unknown key 'comands'");
    const missing = await hive.cli('load', '--config', hive.configFile, '--package', 'hive-plugin-absent');
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain("package 'hive-plugin-absent' is not installed");
  }, 60_000);

  /** `hive load` run in another folder (a package is found from the current folder). */
  async function execIn(cwd: string, ...args: string[]) {
    const { execa } = await import('execa');
    const r = await execa(join(ROOT, 'bin/hive'), args, { cwd, env: hive.env, reject: false, timeout: 60_000 });
    return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
  }
});
