// `hive dev` (issue 18) driven through a pipe as an author's terminal would: type to the bot, see
// the answer, the plugin's log lines and the tap; change the plugin and see it alone restarted (a
// TypeScript one compiled first, a failed build shown while the old one keeps answering); then
// Ctrl-C (SIGINT) leaves no process, socket, runtime file or temp folder behind.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa, type ResultPromise } from 'execa';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/paths.js';
import { waitFor } from '../helpers/wait.js';
import { formatLog, formatTap } from '../../tree-supervisor/cli-dev.js';

const HIVE = join(ROOT, 'bin/hive');
let base: string;
beforeAll(async () => { base = await mkdtemp(join(tmpdir(), 'hive-dev-test-')); });
afterAll(async () => { await rm(base, { recursive: true, force: true }); });

/** Every process whose environment names this runtime dir: hive up, its bus, the mouth, the nodes, their proxies. */
function processesOf(runDir: string): number[] {
  const pids: number[] = [];
  for (const p of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const env = readFileSync(`/proc/${p}/environ`, 'utf8');
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      if (env.includes(runDir) && stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z') pids.push(Number(p));
    } catch { /* gone, or not ours to read */ }
  }
  return pids;
}

function hiveDevTemps(): string[] {
  return readdirSync(tmpdir()).filter((f) => f.startsWith('hive-dev-') && !f.startsWith('hive-dev-test-'));
}

interface Dev { proc: ResultPromise; out: string[]; runDir: string; type(line: string): void; expect(match: string | RegExp, since?: number, timeout?: number): Promise<string> }

async function startDev(path: string, name: string): Promise<Dev> {
  const runDir = join(base, `run-${name}`);
  const proc = execa(process.execPath, [HIVE, 'dev', path], { cwd: base, env: { HIVE_RUNTIME_DIR: runDir }, stdin: 'pipe', reject: false, buffer: false, timeout: 170_000 });
  const out: string[] = [];
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let nl = buf.indexOf('\n'); nl !== -1; nl = buf.indexOf('\n')) { out.push(buf.slice(0, nl)); buf = buf.slice(nl + 1); }
  });
  proc.stderr!.on('data', (d: Buffer) => { out.push(`[stderr] ${d.toString().trimEnd()}`); });
  const expectLine = (match: string | RegExp, since = 0, timeout = 30_000) =>
    waitFor(() => out.slice(since).find((l) => (typeof match === 'string' ? l.includes(match) : match.test(l))), { timeout, what: () => `${String(match)} in hive dev's output:\n${out.join('\n')}` });
  return { proc, out, runDir, type: (l) => { proc.stdin!.write(l + '\n'); }, expect: expectLine };
}

/** Ctrl-C, and the checks that nothing is left. */
async function interrupt(dev: Dev, tempsBefore: string[]): Promise<void> {
  const during = processesOf(dev.runDir);
  expect(during.length).toBeGreaterThanOrEqual(4); // hive up, the bus, the mouth, help, the plugin…
  dev.proc.kill('SIGINT');
  const r = await dev.proc;
  expect(r.exitCode, dev.out.join('\n')).toBe(0);
  expect(dev.out.at(-1)).toBe('hive dev: stopped (exit 0); nothing left behind');
  await waitFor(() => processesOf(dev.runDir).length === 0, { timeout: 10_000, what: () => `no process left of ${dev.runDir} (left: ${processesOf(dev.runDir).join(', ')})` });
  expect(existsSync(dev.runDir) ? readdirSync(dev.runDir) : []).toEqual([]);
  expect(hiveDevTemps().filter((t) => !tempsBefore.includes(t))).toEqual([]);
}

describe('hive dev', () => {
  it('a shell plugin: answers, shows its logs and the tap, restarts on a change, Ctrl-C leaves nothing', { timeout: 120_000 }, async () => {
    const made = await execa(process.execPath, [HIVE, 'new', 'dsh', '--lang', 'shell'], { cwd: base });
    expect(made.exitCode).toBe(0);
    const temps = hiveDevTemps();
    const dev = await startDev('dsh', 'dsh');
    await dev.expect(`hive dev: dsh (shell) from ${join(base, 'dsh')}, in hive 'dev_dsh'. Type to talk to the bot (try !dsh)`);
    await dev.expect(/ dsh +info +joined parent/);
    dev.type('!dsh world');
    await dev.expect('<hive> hello, world');
    await dev.expect(/↓ <you> in #console: !dsh world/);
    await dev.expect(/↑ dsh → #console: hello, world {2}\(reply to mouth-/);
    // The author edits the answer: only the plugin restarts, and answers the new way.
    const file = join(base, 'dsh/dsh.sh');
    const mark = dev.out.length;
    writeFileSync(file, readFileSync(file, 'utf8').replace('ANSWER="$GREETING, ${2:-$1}"', 'ANSWER="$GREETING again, ${2:-$1}"'));
    await dev.expect("the plugin's files changed: restarting dsh", mark);
    await dev.expect(/ dsh +info +joined parent/, mark);
    expect(dev.out.slice(mark).filter((l) => /changed: restarting/.test(l))).toHaveLength(1); // one change, one restart
    dev.type('!dsh you');
    await dev.expect('<hive> hello again, you', mark);
    // help was not restarted: one `node started` for it, at the start (it is not shown: not the plugin's).
    expect(dev.out.some((l) => / help /.test(l))).toBe(false);
    await interrupt(dev, temps);
  });

  it('a TypeScript plugin: compiled before it starts and on each change; a failed build is shown and the old one keeps answering', { timeout: 170_000 }, async () => {
    const made = await execa(process.execPath, [HIVE, 'new', 'dts', '--lang', 'ts'], { cwd: base });
    expect(made.exitCode).toBe(0);
    const temps = hiveDevTemps();
    const dev = await startDev(join(base, 'dts'), 'dts');
    await dev.expect(/hive dev +built dts \(tsc -p \., \d+ ms\)/, 0, 90_000);
    await dev.expect(/ dts +info +attached to parent/, 0, 60_000);
    dev.type('!dts world');
    await dev.expect('<hive> hello, world');
    const src = join(base, 'dts/src/dts.ts');
    const good = readFileSync(src, 'utf8');
    let mark = dev.out.length;
    writeFileSync(src, good.replace('cmd.reply(`${hive.config.greeting}, ${cmd.args || cmd.nick}`)', 'cmd.reply(42)'));
    await dev.expect('the build failed; dts keeps running as it was:', mark, 90_000);
    await dev.expect(/src\/dts\.ts\(\d+,\d+\): error TS2345/, mark);
    dev.type('!dts still');
    await dev.expect('<hive> hello, still', mark);
    mark = dev.out.length;
    writeFileSync(src, good.replace('cmd.reply(`${hive.config.greeting}, ', 'cmd.reply(`${hive.config.greeting} from ts, '));
    await dev.expect(/hive dev +built dts/, mark, 90_000);
    await dev.expect(/ dts +info +attached to parent/, mark, 60_000);
    dev.type('!dts there');
    await dev.expect('<hive> hello from ts, there', mark);
    await interrupt(dev, temps);
  });

  it('refuses what is not a plugin, by name', async () => {
    const none = await execa(process.execPath, [HIVE, 'dev', join(base, 'nowhere')], { reject: false });
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toContain(`hive dev: ${join(base, 'nowhere')}: no such file or folder`);
    const noManifest = await execa(process.execPath, [HIVE, 'dev', base], { reject: false });
    expect(noManifest.exitCode).toBe(2);
    expect(noManifest.stderr).toContain('no plugin manifest');
    expect((await execa(process.execPath, [HIVE, 'dev'], { reject: false })).stderr).toContain('which plugin?');
    expect((await execa(process.execPath, [HIVE, 'dev', '--help'], { reject: false })).stdout).toContain('usage: hive dev PATH');
  });

  it('formats log lines and tap records one readable line each; hostile or odd input does not throw', () => {
    expect(formatLog('{"level":30,"time":0,"node":"x","msg":"attached to parent","parent":"org.hive.d.mouth"}', 'x')).toMatch(/^\d\d:\d\d:\d\d\.\d{3} x +info +attached to parent {2}parent=org\.hive\.d\.mouth$/);
    expect(formatLog('{"level":30,"node":"help","msg":"attached to parent"}', 'x')).toBeUndefined(); // another node's info
    expect(formatLog('{"level":40,"node":"help","msg":"slow"}', 'x')).toContain('help       warn  slow');
    expect(formatLog('{"level":30,"node":"supervisor","child":"x","msg":"node started"}', 'x')).toContain('supervisor info  node started');
    expect(formatLog('{"level":30,"node":"x","msg":"node output","text":"Traceback (most recent call last):"}', 'x')).toContain('x          info  Traceback (most recent call last):');
    expect(formatLog('not json at all', 'x')).toBe('not json at all');
    expect(formatLog('null', 'x')).toBe('null');
    expect(formatTap('{"direction":"down","lines":[":bob!b@h PRIVMSG #c :!x hi"],"meta":{}}')).toMatch(/↓ <bob> in #c: !x hi$/);
    expect(formatTap('{"direction":"up","from":"x","lines":["PRIVMSG #c :a","PRIVMSG #c :b"],"meta":{"hive.reply_to":"m-1"}}')).toMatch(/↑ x → #c: a ⏎ → #c: b {2}\(reply to m-1\)$/);
    expect(formatTap('{"direction":"down","lines":[],"meta":{"hive.event":"registered"}}')).toMatch(/↓ \(registered\)$/);
    expect(formatTap('{"direction":"down","lines":[":s 001 hive :Welcome"]}')).toMatch(/↓ :s 001 hive :Welcome$/);
    expect(formatTap('{oops')).toBeUndefined();
  });
});
