// The optional sandbox (issue 16): a real bwrap, a real TCP listener on loopback. Each thing a
// sandboxed node must not do is tried, next to the same thing outside the sandbox or with the
// setting that allows it, so that every check can fail.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sandboxArgs, type SandboxSpec } from '../../tree-supervisor/sandbox.js';

let root: string;
let server: Server;
let port: number;
const spec = (extra: Partial<SandboxSpec> = {}): SandboxSpec => ({
  stateDir: join(root, 'state', 'dice'),
  hide: [join(root, 'home'), join(root, 'state'), join(root, 'run')],
  readOnly: [join(root, 'home', 'plugins')],
  writable: [join(root, 'run', 'dice')],
  ...extra,
});
const inside = (script: string, s = spec()) => execa('bwrap', [...sandboxArgs(s), 'sh', '-c', script], { reject: false });

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'hive-sandbox-'));
  for (const d of ['state/dice', 'state/notes', 'home/plugins', 'run/dice']) await mkdir(join(root, d), { recursive: true });
  await writeFile(join(root, 'state', 'notes', 'notes.json'), 'secret notes');
  await writeFile(join(root, 'home', '.ssh_key'), 'secret key');
  await writeFile(join(root, 'home', 'plugins', 'dice.py'), 'print("dice")');
  await writeFile(join(root, 'run', 'runtime.json'), 'operator credential');
  server = createServer((c) => c.end('hello\n'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});
afterAll(async () => { server?.close(); await rm(root, { recursive: true, force: true }); });

describe('a sandboxed node', () => {
  it('writes its own state directory and nothing else', async () => {
    const r = await inside(`echo ok > ${root}/state/dice/x && echo written; echo no > ${root}/state/notes/y 2>/dev/null || echo refused; echo no > /etc/hive-test 2>/dev/null || echo refused`);
    expect(r.stdout.split('\n')).toEqual(['written', 'refused', 'refused']);
    expect(await readFile(join(root, 'state', 'dice', 'x'), 'utf8')).toBe('ok\n');
  });

  it('sees neither another node\'s state, nor the home, nor the operator\'s runtime files; its program is readable', async () => {
    const script = `cat ${root}/state/notes/notes.json 2>/dev/null || echo none; cat ${root}/home/.ssh_key 2>/dev/null || echo none; cat ${root}/run/runtime.json 2>/dev/null || echo none; cat ${root}/home/plugins/dice.py`;
    expect((await inside(script)).stdout.split('\n')).toEqual(['none', 'none', 'none', 'print("dice")']);
    // Outside the sandbox the same script reads them all: the check can fail.
    expect((await execa('sh', ['-c', script])).stdout).toContain('secret notes');
  });

  it('keeps another node\'s state and the runtime files hidden when a directory that holds them is shown (its cwd)', async () => {
    const script = `cat ${root}/state/notes/notes.json 2>/dev/null || echo none; cat ${root}/run/runtime.json 2>/dev/null || echo none; ls ${root} >/dev/null && echo cwd`;
    expect((await inside(script, spec({ readOnly: [root, join(root, 'home', 'plugins')], cwd: root }))).stdout.split('\n')).toEqual(['none', 'none', 'cwd']);
  });

  it('has no network unless its config says so', async () => {
    const connect = `exec 3<>/dev/tcp/127.0.0.1/${port} && head -1 <&3 || echo unreachable`;
    const bash = (s: SandboxSpec) => execa('bwrap', [...sandboxArgs(s), 'bash', '-c', connect], { reject: false });
    expect((await bash(spec())).stdout.trim()).toBe('unreachable');
    expect((await bash(spec({ network: true }))).stdout.trim()).toBe('hello');
  });

  it('runs in its own pid namespace and dies with its parent', async () => {
    const r = await inside('echo $$');
    expect(r.stdout.trim()).toBe('2');
    // kill -9 of its parent (the supervisor) takes the sandboxed program with it.
    const marker = String(600 + Math.floor(Math.random() * 1000) / 1000);
    const parent = execa('sh', ['-c', `bwrap ${sandboxArgs(spec()).join(' ')} sleep ${marker}; :`], { reject: false });
    const running = async () => (await execa('pgrep', ['-f', `sleep ${marker}`], { reject: false })).stdout.trim() !== '';
    for (let i = 0; i < 100 && !(await running()); i++) await new Promise((r) => setTimeout(r, 20));
    expect(await running()).toBe(true);
    parent.kill('SIGKILL');
    await parent;
    for (let i = 0; i < 100 && (await running()); i++) await new Promise((r) => setTimeout(r, 20));
    expect(await running()).toBe(false);
  });
});
