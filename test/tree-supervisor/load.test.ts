// `hive load` runs the config file's own per-entry check (checkPluginSpec, issue 15): every rule of
// it is refused through the real path (hive load → Supervisor1.Load), with exit 4 and the key.
// Reserved names and `restart:` on a remote node are in hostile-config.test.ts; these are the rest.
import { afterEach, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { startHive, HIVE_BIN, type TestHive } from '../helpers/hive.js';

let hive: TestHive | undefined;
afterEach(async () => {
  await hive?.stop();
  hive = undefined;
});

describe('hive load refuses what the config file refuses', () => {
  it('none or two of use/exec/remote, config or cwd on a remote node, an unknown built-in: exit 4, nothing added', async () => {
    hive = await startHive({ networks: { console: { type: 'terminal', quiet_ms: 200 } }, plugins: [{ name: 'ping', use: 'ping' }] });
    const load = (yaml: string) => execa(HIVE_BIN, ['load', '-', '--config', hive!.configFile], { env: hive!.env, input: yaml, reject: false, timeout: 30_000 });
    const cases: [string, string][] = [
      ['name: none\n', 'expected exactly one of use (a built-in plugin), exec (a program), dir (a plugin folder), package (an npm package) or remote: true; got none'],
      ['name: both\nuse: echo\nexec: [cat]\n', 'got use and exec'],
      ['name: far\nremote: true\nconfig: { a: 1 }\n', '`config`: has no effect on a remote node'],
      ['name: far\nremote: true\ncwd: /tmp\n', '`cwd`: has no effect on a remote node'],
      ['name: odd\nuse: no-such-plugin\n', "`use`: 'no-such-plugin' is not a built-in plugin; they are:"],
      ['name: Supervisor\nremote: true\nrestart: { max: 1 }\n', "`name`: 'Supervisor' is reserved"],
      ['name: lost\nuse: echo\nparent: nowhere\n', "`parent`: 'nowhere' is not a node"],
    ];
    for (const [yaml, message] of cases) {
      const r = await load(yaml);
      expect(r.exitCode, yaml).toBe(4);
      expect(r.stderr, yaml).toContain(message);
    }
    // Every problem of one spec at once, as the config file reports them.
    const many = await load('name: Supervisor\nremote: true\nrestart: { max: 1 }\ncwd: /tmp\n');
    expect(many.stderr).toContain('`restart`: has no effect on a remote node');
    expect(many.stderr).toContain('`cwd`: has no effect on a remote node');
    expect(many.stderr).toContain("'Supervisor' is reserved");
    expect((await hive.tree()).map((n) => n.name).sort()).toEqual(['mouth', 'ping']);
  });
});
