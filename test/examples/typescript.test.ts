// The TypeScript example of docs/writing-plugins.md: plugins/examples/typescript/dice.ts in the
// development hive of plugins/examples/typescript/hive.yaml, and the guide's commands
// (plugins/examples/typescript/dev.sh) run against it.
import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { parse } from 'yaml';
import { ROOT } from '../helpers/paths.js';
import { startHive, type TestHive } from '../helpers/hive.js';
import { waitForNodeLog } from '../mouth/util.js';

const EXAMPLE = join(ROOT, 'plugins/examples/typescript');
let hive: TestHive | undefined;
afterEach(async () => { await hive?.stop(); hive = undefined; });

describe('the TypeScript example plugin (dice)', () => {
  it('answers in the example hive, refuses bad input, and is reloaded by the guide\'s commands', async () => {
    const config = parse(readFileSync(join(EXAMPLE, 'hive.yaml'), 'utf8')) as Record<string, unknown>;
    // The example's paths are relative to its config file.
    const plugins = (config.plugins as Record<string, unknown>[]).map((p) => (p.exec ? { ...p, cwd: EXAMPLE } : p));
    hive = await startHive({ ...config, plugins, networks: { console: { type: 'terminal', quiet_ms: 200 } } });
    // --8<-- [start:test]
    await waitForNodeLog(hive, 'dice', 'attached to parent');
    hive.say('!roll 2d6');
    const line = await hive.expectOutput(/^you rolled/);
    const m = /^you rolled (\d+) \((\d) \+ (\d)\)$/.exec(line);
    expect(m, line).not.toBeNull();
    expect(Number(m![1])).toBe(Number(m![2]) + Number(m![3]));
    let mark = hive.stdout.length;
    hive.say('!roll 9d6');
    await hive.expectOutput('roll: 1 to 5 dice of 2 to 1000 sides', { since: mark });
    hive.say('!roll lots');
    await hive.expectOutput('usage: roll NdM, e.g. roll 2d6', { since: mark });
    hive.say('!help roll');
    await hive.expectOutput('roll NdM — rolls N dice of M sides', { since: mark });
    // --8<-- [end:test]

    const dev = await execa(join(EXAMPLE, 'dev.sh'), [], { env: hive.env, reject: false, timeout: 120_000 });
    expect(dev.exitCode, String(dev.stderr)).toBe(0);
    expect(String(dev.stdout)).toMatch(/dice/);
    await waitForNodeLog(hive, 'dice', 'attached to parent', (l) => hive!.logs.filter((x) => x.node === 'dice' && x.msg === 'attached to parent').indexOf(l) >= 1, 30_000);
    mark = hive.stdout.length;
    hive.say('!roll d20');
    await hive.expectOutput(/^you rolled \d+$/, { since: mark });
  }, 150_000);
});
