// hive/testing, as a plugin author imports it (the package's own name, through its `exports`):
// a real hive with ping and echo, replies with their metadata, a kill -9 seen through it, stop and
// start, the tree, and a teardown that leaves no process and no temp dir, even when not called.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { testHive, TestHiveError, type TestHive } from 'hive/testing';
import { alive } from '../helpers/hive.js';
import { waitFor } from '../helpers/wait.js';
import { ROOT } from '../helpers/paths.js';
import { watchMessages, type TapMessage } from '../../tree-supervisor/cli-tap.js';
import { runtimeFile, type RuntimeInfo } from '../../tree-supervisor/runtime-file.js';

describe('testHive with ping and echo', () => {
  let hive: TestHive;
  beforeAll(async () => {
    hive = await testHive({ plugins: [{ name: 'ping', use: 'ping' }, { name: 'echo', use: 'echo' }, { name: 'help', use: 'help' }] });
  }, 60_000);
  afterAll(async () => {
    await hive?.close();
  });

  it('answers what a user says, with the reply\'s target and metadata', async () => {
    const r = await hive.say('!ping');
    expect(r).toMatchObject({ text: 'pong', lines: ['pong'], target: '#test', command: 'PRIVMSG', origin: 'ping' });
    expect(r.meta['hive.network']).toBe('test');
    expect(r.meta['hive.reply_to']).toBe(r.reply_to);
    expect(r.meta['hive.path']).toEqual(['ping']);
    // As another user, in another channel, and in private (the reply goes to the speaker).
    expect((await hive.say('!echo hi there', { as: 'bob', in: '#other' })).target).toBe('#other');
    const priv = await hive.say('echo in private', { as: 'carol', in: hive.nick });
    expect(priv).toMatchObject({ text: 'in private', target: 'carol' });
    expect(hive.sent.map((s) => s.sent)).toContain('PRIVMSG carol :in private');
  });

  it('collects a reply of several lines as one, and every reply within a quiet period', async () => {
    const help = await hive.say('!help');
    expect(help.lines.length).toBeGreaterThanOrEqual(1);
    expect(help.text).toContain('ping');
    const all = await hive.sayAll('!ping', { quietMs: 300 });
    expect(all.map((r) => r.text)).toEqual(['pong']);
    // Talk nobody answers: no reply, and say() says so by name after its timeout.
    expect(await hive.sayAll('just talk', { quietMs: 200 })).toEqual([]);
    const err = await hive.say('just talk', { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TestHiveError);
    expect((err as TestHiveError).code).toBe('NoReply');
  });

  it('passes raw server lines, and refuses a request the network cannot take with a named error', async () => {
    const id = await hive.line(':dave!d@example JOIN #test');
    expect(id).toMatch(/^mouth-/);
    await expect(hive.say('two\nlines')).rejects.toMatchObject({ code: 'Refused' });
    await expect(hive.say('!ping', { in: 'somebody-else' })).rejects.toMatchObject({ code: 'Refused' });
    await expect(hive.line('PRIVMSG')).rejects.toMatchObject({ code: 'Refused' });
    // The mouth's outbound checks hold as on IRC: a CTCP echoed back is refused and reported.
    const before = hive.refused.length;
    const echo = await hive.say('!echo \x01VERSION\x01');
    expect(echo.text).toContain('CtcpNotAllowed');
    expect(hive.refused.slice(before)).toEqual([expect.objectContaining({ refused: 'CtcpNotAllowed', origin: 'echo' })]);
    expect((await hive.node('mouth')).counters['test.bad_requests']).toBe(3);
  });

  it('sees a kill -9 and the restart through it: what is said meanwhile is answered', async () => {
    const before = await hive.node('ping');
    // ping must have saved where it is before the kill (its save runs on a 100 ms timer and an
    // async write: a fixed pause can end first on a loaded machine). Said last, a !ping whose
    // hive.seq a bus monitor reads; then wait until ping's .hive-seq.json holds that number.
    const info = JSON.parse(await readFile(runtimeFile(hive.instance, hive.env), 'utf8')) as RuntimeInfo;
    const down: TapMessage[] = [];
    const watch = await watchMessages(info, (m) => { if (m.direction === 'down') down.push(m); }, async () => []);
    try {
      const probe = await hive.say('!ping');
      const seq = await waitFor(() => down.find((m) => m.meta['hive.id'] === probe.reply_to)?.meta['hive.seq'], { what: 'the !ping on the bus' });
      const last = Number(seq);
      const seqFile = join(hive.dir, 'state', 'ping', '.hive-seq.json');
      await waitFor(async () => (JSON.parse(await readFile(seqFile, 'utf8')) as Record<string, number>).test! >= last, { what: () => `${seqFile} to hold ${last}` });
    } finally {
      watch.stop();
    }
    const { pid } = await hive.kill('ping', { wait: false });
    expect(pid).toBe(before.pid);
    // SIGKILL is sent; the process is gone once its parent has reaped it, a moment later on a busy machine.
    await waitFor(() => !alive(pid), { timeout: 5_000, what: `pid ${pid} gone` });
    const r = await hive.say('!ping', { timeoutMs: 20_000 });
    expect(r.text).toBe('pong');
    const after = await hive.node('ping');
    expect(after.pid).not.toBe(pid);
    expect(after.restarts).toBe(before.restarts + 1);
    // By default kill() returns once the node is back and attached.
    const again = await hive.kill('ping');
    expect(await hive.node('ping')).toMatchObject({ state: 'running', restarts: before.restarts + 2 });
    expect((await hive.node('ping')).pid).not.toBe(again.pid);
    expect((await hive.say('!ping')).text).toBe('pong');
  });

  it('stops and starts a node; tree() is what hive tree --json gives', async () => {
    await hive.stop('echo');
    expect((await hive.node('echo')).state).toBe('stopped');
    await expect(hive.say('!echo nobody', { timeoutMs: 500 })).rejects.toMatchObject({ code: 'NoReply' });
    await hive.start('echo');
    await hive.ready('echo');
    expect((await hive.say('!echo back')).text).toBe('back');
    await hive.restart('echo');
    await hive.ready('echo');
    const tree = await hive.tree();
    expect(tree.instance).toBe(hive.instance);
    expect(tree.nodes.map((n) => n.name).sort()).toEqual(['echo', 'help', 'mouth', 'ping']);
    const cli = await execa(`${ROOT}/bin/hive`, ['tree', '--json', '--config', hive.configFile], { env: { HIVE_RUNTIME_DIR: `${hive.dir}/run` } });
    expect(JSON.parse(cli.stdout).nodes.map((n: { name: string }) => n.name).sort()).toEqual(tree.nodes.map((n) => n.name).sort());
    await expect(hive.kill('nobody')).rejects.toMatchObject({ code: 'NoSuchNode' });
  });

  it('keeps saying across a restart of the mouth (the socket is connected again)', async () => {
    await hive.kill('mouth', { wait: false });
    const r = await hive.say('!ping', { timeoutMs: 20_000 }).catch(async (e: unknown) => {
      // The line may have gone to the mouth on its way down: said again once it is back.
      if ((e as TestHiveError).code !== 'Closed') throw e;
      return hive.say('!ping', { timeoutMs: 20_000 });
    });
    expect(r.text).toBe('pong');
  });
});

describe('testHive with a node without a connection of its own (shell)', () => {
  it('knows it is back after a kill -9 by its parent\'s word (child joined)', async () => {
    const hive = await testHive({ plugins: [{ name: 'shping', exec: ['bash', `${ROOT}/plugins/examples/shell/responder.sh`] }] });
    try {
      expect((await hive.say('!shping hi')).text).toBe('shpong hi');
      const { pid } = await hive.kill('shping');
      expect((await hive.node('shping')).pid).not.toBe(pid);
      expect((await hive.say('!shping again')).text).toBe('shpong again');
    } finally {
      await hive.close();
    }
  }, 60_000);
});

describe('testHive set-up and teardown', () => {
  it('fails to start with the hive\'s own words, and leaves nothing', async () => {
    const err = await testHive({ plugins: [{ name: 'x', use: 'no-such-plugin' }], startTimeoutMs: 20_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TestHiveError);
    expect((err as TestHiveError).code).toBe('StartFailed');
    expect((err as Error).message).toContain('no-such-plugin');
  });

  it('close() ends every process of the hive and removes its dir; twice is fine', async () => {
    const hive = await testHive({ plugins: [{ name: 'ping', use: 'ping' }] });
    const pids = (await hive.tree()).nodes.map((n) => n.pid!);
    await hive.close();
    await hive.close();
    expect(pids.filter(alive)).toEqual([]);
    expect(existsSync(hive.dir)).toBe(false);
    await expect(hive.say('!ping')).rejects.toMatchObject({ code: 'Closed' });
  });

  it('a test process that dies without close() (even by kill -9) takes its hive with it', async () => {
    for (const signal of ['exit', 'SIGKILL'] as const) {
      const script = `
        import { testHive } from 'hive/testing';
        const hive = await testHive({ plugins: [{ name: 'ping', use: 'ping' }] });
        const t = await hive.tree();
        console.log(JSON.stringify({ dir: hive.dir, pids: t.nodes.map((n) => n.pid) }));
        ${signal === 'exit' ? 'process.exit(0);' : 'setInterval(() => {}, 1000);'}`;
      const child = execa(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, reject: false });
      let out = '';
      child.stdout!.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('\n') && signal === 'SIGKILL') child.kill('SIGKILL'); });
      await child;
      const { dir, pids } = JSON.parse(out.trim()) as { dir: string; pids: number[] };
      const deadline = Date.now() + 20_000;
      while ((pids.some(alive) || existsSync(dir)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect({ signal, alive: pids.filter(alive), dir: existsSync(dir) }).toEqual({ signal, alive: [], dir: false });
    }
  }, 60_000);
});

describe('testHive with a plugin folder', () => {
  it('takes a relative dir: from the test\'s cwd, not from its temp config folder', async () => {
    const { mkdtemp, mkdir, rm, symlink, writeFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const base = await mkdtemp(join(tmpdir(), 'hive-harness-dir-'));
    await mkdir(join(base, 'shelly'));
    await symlink(join(ROOT, 'plugins/examples/shell/responder.sh'), join(base, 'shelly/responder.sh'));
    await writeFile(join(base, 'shelly/hive-plugin.json'), JSON.stringify({ name: 'shelly', language: 'shell', exec: ['bash', './responder.sh'], commands: [{ name: 'shping' }] }));
    const hive = await testHive({ cwd: base, plugins: [{ name: 'shelly', dir: 'shelly' }] });
    try {
      expect((await hive.say('!shping')).text).toBe('shpong');
    } finally {
      await hive.close();
      await rm(base, { recursive: true, force: true });
    }
  }, 60_000);
});
