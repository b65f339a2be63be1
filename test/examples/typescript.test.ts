// The TypeScript example of docs/writing-plugins.md: plugins/examples/typescript/dice.ts tested with
// hive/testing as a plugin author tests theirs (the guide quotes the marked part), then the
// example's hive.yaml plugins with the guide's reload commands (plugins/examples/typescript/dev.sh).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { parse } from 'yaml';
import { ROOT } from '../helpers/paths.js';

// --8<-- [start:test]
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testHive, type TestHive } from 'hive/testing';

describe('dice', () => {
  let hive: TestHive;
  beforeAll(async () => {
    // A real hive: a private bus, the mouth with a scripted network, help and dice as processes.
    hive = await testHive({
      cwd: ROOT, // where the relative paths of exec: are taken from
      plugins: [
        { name: 'help', use: 'help' },
        { name: 'dice', exec: ['node', 'dist/plugins/run.js', 'dist/plugins/examples/typescript/dice.js'], config: { max_dice: 5 } },
      ],
    });
  });
  afterAll(() => hive?.close()); // also done at exit, if a test never gets here

  it('rolls NdM and adds them up', async () => {
    const r = await hive.say('!roll 2d6', { as: 'alice' });
    const m = /^alice rolled (\d+) \((\d) \+ (\d)\)$/.exec(r.text);
    expect(m, r.text).not.toBeNull();
    expect(Number(m![1])).toBe(Number(m![2]) + Number(m![3]));
    expect(r.target).toBe('#test'); // answered where it was asked
    expect(r.origin).toBe('dice');
  });

  it('answers bad input with a clear line, never a crash', async () => {
    expect((await hive.say('!roll 9d6')).text).toBe('roll: 1 to 5 dice of 2 to 1000 sides');
    expect((await hive.say('!roll lots')).text).toBe('usage: roll NdM, e.g. roll 2d6');
    expect((await hive.say('!help roll')).text).toContain('roll NdM — rolls N dice of M sides');
  });

  it('answers in private, and again after kill -9', async () => {
    expect((await hive.say('roll d4', { as: 'bob', in: hive.nick })).target).toBe('bob');
    await hive.kill('dice'); // returns once the supervisor has started it again and it has attached
    expect((await hive.say('!roll d20')).text).toMatch(/^alice rolled \d+$/);
    expect((await hive.node('dice')).restarts).toBe(1);
  });
});
// --8<-- [end:test]

describe('the example hive.yaml and the guide\'s reload commands', () => {
  let hive: TestHive;
  afterAll(() => hive?.close());

  it('runs the example\'s plugins, and dev.sh (hive unload, hive load, hive tree) replaces dice in it', async () => {
    const EXAMPLE = join(ROOT, 'plugins/examples/typescript');
    const config = parse(readFileSync(join(EXAMPLE, 'hive.yaml'), 'utf8')) as { instance: string; plugins: { name: string }[] };
    // The example's paths are relative to its config file; dev.sh names its instance.
    hive = await testHive({ cwd: EXAMPLE, plugins: config.plugins, config: { instance: config.instance } });
    expect((await hive.say('!roll 2d6')).text).toMatch(/^alice rolled \d+ \(\d \+ \d\)$/);
    const before = (await hive.node('dice')).pid;
    const dev = await execa(join(EXAMPLE, 'dev.sh'), [], { env: hive.env, reject: false, timeout: 120_000 });
    expect(dev.exitCode, String(dev.stderr)).toBe(0);
    expect(String(dev.stdout)).toMatch(/dice/);
    await hive.ready('dice', 30_000);
    expect((await hive.node('dice')).pid).not.toBe(before);
    expect((await hive.say('!roll d20')).text).toMatch(/^alice rolled \d+$/);
  }, 150_000);
});
