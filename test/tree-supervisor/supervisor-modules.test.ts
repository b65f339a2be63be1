// What the running supervisor loads (issue 17: the supervisor was the largest process of an idle
// hive). `hive up` runs under a loader hook that lists every module its process loads; after
// start-up, a reload, a `hive load`, a refused SIGHUP reload and a refused Load, the list must hold
// neither yaml nor the config's schemas (config.ts, load-spec.ts, plugin-manifest.ts, the mouth's
// network-config.ts) nor the other commands' code: configs and specs are checked in a short-lived
// process (config-checker.ts). And that process's verdict is the in-process check's: the same
// config, the same ConfigError, the same refusal of a Load.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { stringify } from 'yaml';
import { DIST, fixture } from '../helpers/paths.js';
import { HIVE_BIN } from '../helpers/hive.js';
import { waitFor } from '../helpers/wait.js';
import type * as Checker from '../../tree-supervisor/config-checker.js';
import type * as ReadConfig from '../../tree-supervisor/read-config.js';
import type * as LoadSpec from '../../tree-supervisor/load-spec.js';

/** Packages the supervisor must not load: the config's YAML, and what only other commands or processes use. */
const UNWANTED_PACKAGES = ['zod', 'yaml', 'hono', '@hono/node-server', 'pino-pretty', 'irc-framework', '@xmpp/client', 'lodash', 'xml2js', 'xmlbuilder'];
/** Our modules it must not load. */
const UNWANTED_MODULES = [
  'tree-supervisor/config.js', 'tree-supervisor/read-config.js', 'tree-supervisor/load-spec.js', 'tree-supervisor/plugin-manifest.js',
  'tree-supervisor/yaml-bounds.js', 'tree-supervisor/config-check.js', 'mouth/network-config.js', 'protocol/duration-schema.js',
  'tree-supervisor/cli-client.js', 'tree-supervisor/cli-tap.js', 'tree-supervisor/cli-dev.js', 'tree-supervisor/cli-new.js', 'tree-supervisor/cli-web.js',
];
const loadedPackages = (trace: string) => new Set([...trace.matchAll(/\/node_modules\/((?:@[^/]+\/)?[^/]+)\//g)].map((m) => m[1]!));
const loadedModules = (trace: string) => new Set([...trace.matchAll(/\/dist\/(\S+\.js)$/gm)].map((m) => m[1]!));

let dir: string, file: string, traceFile: string, proc: ResultPromise, instance: string;
const logs: Record<string, unknown>[] = [];
const env = () => ({ HIVE_RUNTIME_DIR: join(dir, 'run'), HIVE_LOG_FORMAT: 'json' });
const cli = async (...args: string[]) => {
  const r = await execa(HIVE_BIN, [...args, '--instance', instance], { env: env(), reject: false, timeout: 30_000 });
  return { exitCode: r.exitCode, stderr: String(r.stderr) };
};
const waitLog = (pred: (l: Record<string, unknown>) => boolean, what: string) => waitFor(() => logs.find(pred), { timeout: 15_000, what });
const config = (plugins: Record<string, unknown>[]) => stringify({
  instance, bus: 'private', state_dir: join(dir, 'state'), log_level: 'info', networks: { console: { type: 'terminal' } }, plugins,
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hive-sup-modules-'));
  instance = `supmod${process.pid}`;
  file = join(dir, 'hive.yaml');
  traceFile = join(dir, 'trace');
  await writeFile(file, config([{ name: 'ping', use: 'ping' }]));
  // The hook is node's option of this process only: the nodes and the check process it starts are not traced.
  proc = execa(process.execPath, ['--import', fixture('module-trace'), HIVE_BIN, 'up', '--config', file], {
    env: { ...env(), HIVE_TEST_MODULE_TRACE: traceFile }, stdin: 'pipe', stdout: 'ignore', stderr: 'pipe', reject: false, buffer: false, cleanup: true,
  });
  let buf = '';
  proc.stderr!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl;
    while ((nl = buf.indexOf('\n')) !== -1) {
      try { logs.push(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>); } catch { logs.push({ msg: buf.slice(0, nl) }); }
      buf = buf.slice(nl + 1);
    }
  });
  await waitLog((l) => l.node === 'ping' && l.msg === 'attached to parent', 'ping attached');
}, 30_000);

afterAll(async () => {
  if (proc) {
    proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await proc;
    clearTimeout(t);
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the running supervisor', () => {
  it('reloads, loads and refuses with the checks in their own process', async () => {
    await writeFile(file, config([{ name: 'ping', use: 'ping' }, { name: 'echo', use: 'echo' }]));
    const reloaded = await cli('reload', '--config', file);
    expect(reloaded.exitCode, reloaded.stderr).toBe(0);
    await waitLog((l) => l.node === 'echo' && l.msg === 'attached to parent', 'echo attached after the reload');

    const loaded = await cli('load', '--name', 'extra', '--use', 'help');
    expect(loaded.exitCode, loaded.stderr).toBe(0);
    await waitLog((l) => l.node === 'extra' && l.msg === 'attached to parent', 'extra attached after hive load');

    // Refused by the supervisor's own check (the CLI's precheck is not in the way of a SIGHUP).
    await writeFile(file, config([{ name: 'ping', use: 'ping' }, { name: 'echo', use: 'no_such_plugin' }]));
    proc.kill('SIGHUP');
    const refused = await waitLog((l) => l.msg === 'SIGHUP: reload refused; nothing changed', 'the refused SIGHUP reload');
    expect(String(refused.reason)).toMatch(/`plugins\[1\]\.use`: 'no_such_plugin' is not a built-in plugin.*\(at \S+hive\.yaml:\d+:\d+\)/);

    const bad = await cli('load', '--name', 'extra', '--use', 'echo');
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stderr).toMatch(/'extra' is already a node/);
  });

  it('stays responsive while a reload reads a config that does not end (a FIFO), and applies it once it does', async () => {
    await rm(file);
    await execa('mkfifo', [file]);
    const since = logs.length;
    proc.kill('SIGHUP');
    await waitFor(() => logs.slice(since).find((l) => l.msg === 'reloading the config'), { timeout: 5000, what: 'the SIGHUP reload started' });
    // The check process is blocked opening the FIFO; the supervisor is not.
    const tree = await cli('tree', '--json');
    expect(tree.exitCode, tree.stderr).toBe(0);
    await writeFile(file, config([{ name: 'ping', use: 'ping' }])); // opens the FIFO's writing end: the check reads it
    await waitFor(() => logs.slice(since).find((l) => l.msg === 'reloaded'), { timeout: 15_000, what: 'the reload applied' });
    await waitFor(() => logs.slice(since).find((l) => l.child === 'echo' && l.msg === 'node unloaded'), { timeout: 15_000, what: 'echo unloaded by the reload' });
  });

  it(`has not loaded ${UNWANTED_PACKAGES.join(', ')} or the config's schemas`, async () => {
    const trace = await readFile(traceFile, 'utf8');
    const packages = loadedPackages(trace), modules = loadedModules(trace);
    // The trace works: it sees what the supervisor does load.
    expect(packages.has('dbus-next')).toBe(true);
    expect(modules.has('tree-supervisor/supervisor.js')).toBe(true);
    expect(modules.has('tree-supervisor/config-checker.js')).toBe(true);
    expect(UNWANTED_PACKAGES.filter((p) => packages.has(p))).toEqual([]);
    expect(UNWANTED_MODULES.filter((m) => modules.has(m))).toEqual([]);
  });
});

describe('the check process answers as the in-process check', () => {
  // The compiled modules, both sides: the checker starts dist/tree-supervisor/config-check.js next to
  // itself, and `use:` is checked against the built plugins (dist/plugins/NAME/index.js).
  let checker: typeof Checker, readHiveConfig: typeof ReadConfig.readHiveConfig, parseLoadSpec: typeof LoadSpec.parseLoadSpec;
  beforeAll(async () => {
    checker = await import(join(DIST, 'tree-supervisor/config-checker.js')) as typeof Checker;
    ({ readHiveConfig } = await import(join(DIST, 'tree-supervisor/read-config.js')) as typeof ReadConfig);
    ({ parseLoadSpec } = await import(join(DIST, 'tree-supervisor/load-spec.js')) as typeof LoadSpec);
  });

  it('the same config, secrets and all', async () => {
    process.env.HIVE_TEST_SASL_SECRET = 'sekrit-password';
    const f = join(dir, 'rich.yaml');
    await writeFile(f, stringify({
      instance: 'rich', bus: 'private', state_dir: 'state', command_prefix: '?',
      networks: {
        libera: { type: 'irc', host: 'irc.example.org', tls: true, nick: 'bot', channels: ['#a', { name: '#b', key: 'k' }], flood: { burst: 3 }, sasl: { mechanism: 'PLAIN', account: 'bot', password: '${HIVE_TEST_SASL_SECRET}' }, reconnect: { min_delay: '50ms', max_delay: '2s' } },
        console: { type: 'terminal' },
      },
      plugins: [
        { name: 'ping', use: 'ping', restart: { max: 2, within: '30s' } },
        { name: 'notes', use: 'notes', parent: 'ping', on_death: 'hold', config: { max_notes: 5 } },
        { name: 'tool', exec: ['/bin/cat'], trust: 'filtered', sandbox: { network: true } },
      ],
    }));
    const { readHiveConfigChecked } = checker;
    const theirs = await readHiveConfigChecked(f), ours = readHiveConfig(f);
    expect(theirs.config).toEqual(ours.config);
    expect([...theirs.secretPaths]).toEqual([...ours.secretPaths]);
    expect([...theirs.secretPaths]).toEqual(['networks.libera.sasl.password']);
  });

  it('the same ConfigError for a bad file, and for one that is not there', async () => {
    const f = join(dir, 'bad.yaml');
    await writeFile(f, 'instance: 9bad\nnetworks:\n  n: { type: irc }\nplugins:\n  - { name: x, use: nope, exec: [a] }\n');
    const { readHiveConfigChecked } = checker;
    for (const path of [f, join(dir, 'missing.yaml')]) {
      let expected: Error | undefined;
      try { readHiveConfig(path); } catch (err) { expected = err as Error; }
      expect(expected?.name).toBe('ConfigError');
      await expect(readHiveConfigChecked(path)).rejects.toMatchObject({ name: 'ConfigError', message: expected!.message, exitCode: 2 });
    }
  });

  it('a config that never ends (a FIFO nobody writes) fails the check at its deadline, named', async () => {
    const fifo = join(dir, 'never.yaml');
    await execa('mkfifo', [fifo]);
    const started = Date.now();
    await expect(checker.readHiveConfigChecked(fifo, { timeoutMs: 500 })).rejects.toMatchObject({ name: 'ConfigCheckError', message: 'the config check did not end within 500 ms' });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('the same spec for a Load, and the same refusal', async () => {
    const { parseLoadSpecChecked } = checker;
    const nodes = ['mouth', 'ping'];
    const good = 'name: extra\nuse: echo\nparent: ping\nrestart: { within: 1m }\n';
    expect(await parseLoadSpecChecked(good, nodes, dir)).toEqual(parseLoadSpec(good, nodes, dir));
    const bad = 'name: ping\nuse: echo\nparent: nowhere\nbogus: 1\n';
    let expected: Error | undefined;
    try { parseLoadSpec(bad, nodes, dir); } catch (err) { expected = err as Error; }
    await expect(parseLoadSpecChecked(bad, nodes, dir)).rejects.toMatchObject({ name: 'HiveError', code: 'InvalidArgs', message: expected!.message });
  });
});
