// Supervisor1.Logs and `hive logs` (issue 20): each node's recent log lines — its own and the
// supervisor's about it — oldest first, in a bounded ring of capped lines; operator only; an
// unknown node is NoSuchNode (exit 4). A node that floods long lines keeps 200 lines of ≤ 2 KB.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startHive, type TestHive } from '../helpers/hive.js';
import { waitFor } from '../helpers/wait.js';
import { callWithDeadline, connectBus } from '../../protocol/sdk/bus.js';
import { SUPERVISOR_INTERFACE } from '../../protocol/names.js';
import { LOG_LINE_MAX, LOG_RING_LINES, NodeLogs } from '../../tree-supervisor/node-logs.js';

let hive: TestHive;
beforeAll(async () => {
  hive = await startHive({ networks: { console: { type: 'terminal', quiet_ms: 200 } }, plugins: [{ name: 'ping', use: 'ping' }, { name: 'echo', use: 'echo' }] });
}, 60_000);
afterAll(async () => { await hive?.stop(); });

const parsed = (stdout: string) => stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

describe('hive logs', () => {
  it('shows a node\'s own lines and the supervisor\'s about it, oldest first, and only that node\'s', { timeout: 60_000 }, async () => {
    const pid = (await hive.node('ping')).pid!;
    process.kill(pid, 'SIGKILL');
    await waitFor(async () => { const n = await hive.node('ping'); return n.state === 'running' && n.pid !== pid; }, { timeout: 20_000, what: 'ping back' });
    const r = await hive.cli('logs', 'ping', '--json', '--config', hive.configFile);
    expect(r.exitCode, r.stderr).toBe(0);
    const lines = parsed(r.stdout);
    // The supervisor's lines about ping (child: ping), and ping's own (node: ping, from its stderr).
    const msgs = lines.map((l) => l.msg);
    expect(msgs).toContain('node started');
    expect(msgs).toContain('node died; restarting');
    expect(lines.some((l) => l.node === 'ping' && l.child === undefined)).toBe(true);
    expect(lines.every((l) => l.child === 'ping' || (l.node === 'ping' && l.child === undefined))).toBe(true);
    const times = lines.map((l) => Number(l.time));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(msgs.indexOf('node started')).toBeLessThan(msgs.indexOf('node died; restarting'));
    // -n: the last N only; the text form has one line each.
    const last = await hive.cli('logs', 'ping', '-n', '2', '--json', '--config', hive.configFile);
    const tail = parsed(last.stdout);
    expect(tail).toHaveLength(2);
    expect(Number(tail[0]!.time)).toBeGreaterThanOrEqual(times.at(-2)!);
    const text = await hive.cli('logs', 'ping', '--config', hive.configFile);
    expect(text.stdout).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  node started/m);
  });

  it('refuses an unknown node (NoSuchNode, exit 4), a bad -n (exit 2), and a caller that is not the operator', { timeout: 30_000 }, async () => {
    const r = await hive.cli('logs', 'nosuch', '--config', hive.configFile);
    expect(r.exitCode).toBe(4);
    expect(r.stderr).toMatch(/no node 'nosuch'/);
    expect((await hive.cli('logs', 'ping', '-n', '0', '--config', hive.configFile)).exitCode).toBe(2);
    expect((await hive.cli('logs', 'ping', '-n', 'x', '--config', hive.configFile)).exitCode).toBe(2);
    const info = JSON.parse(await readFile(join(hive.dir, 'run', `${hive.instance}.json`), 'utf8')) as { bus_address: string; supervisor: string };
    const stranger = await connectBus(info.bus_address);
    try {
      const err = await callWithDeadline(stranger, { destination: info.supervisor, path: '/org/hive/Supervisor', interface: SUPERVISOR_INTERFACE, member: 'Logs', signature: 'su', body: ['ping', 0] }, 5000).then(() => 'ok', (e: { code?: string }) => e.code);
      expect(err).toBe('NotAuthorized');
    } finally {
      stranger.disconnect();
    }
  });

  it('files a node\'s line under that node even when it names another (`child`, and `kind: supervisor` from a plugin named supervisor)', { timeout: 30_000 }, async () => {
    const script = 'import json,sys,time\nprint(json.dumps({"level":50,"time":int(time.time()*1000),"msg":"SASL password rejected","child":"ping","kind":"supervisor"}), file=sys.stderr, flush=True)\ntime.sleep(60)\n';
    for (const name of ['evil', 'supervisor']) {
      const load = await hive.cli('load', '--name', name, '--exec', `python3 -c ${'exec(__import__("base64").b64decode("' + Buffer.from(script).toString('base64') + '"))'}`, '--config', hive.configFile);
      expect(load.exitCode, load.stderr).toBe(0);
      try {
        const line = await waitFor(async () => parsed((await hive.cli('logs', name, '--json', '--config', hive.configFile)).stdout).find((l) => l.msg === 'SASL password rejected'), { timeout: 15_000, what: `${name}'s line in its own log` });
        // Its `child` is kept (a parent logs about its children); its `kind` is not (ours).
        expect(line).toMatchObject({ node: name, child: 'ping', level: 50 });
        expect(line.kind).toBeUndefined();
        const ping = parsed((await hive.cli('logs', 'ping', '--json', '--config', hive.configFile)).stdout);
        expect(ping.map((l) => l.msg)).not.toContain('SASL password rejected');
      } finally {
        expect((await hive.cli('unload', name, '--config', hive.configFile)).exitCode).toBe(0);
      }
    }
  });

  it('keeps the last 200 lines of a node that floods long lines, each at most 2 KB, and forgets an unloaded node', { timeout: 60_000 }, async () => {
    // 300 lines of 5 KB of text, then 10 pino lines of 10 KB: a ring of 200, the long ones as stubs.
    const script = 'import json,sys,time\nfor i in range(300): print("x%d " % i + "y"*5000, flush=True)\nfor i in range(10): print(json.dumps({"level":40,"time":int(time.time()*1000),"msg":"big %d" % i + "z"*10000}), flush=True)\ntime.sleep(60)\n';
    const load = await hive.cli('load', '--name', 'flood', '--exec', `python3 -c ${'exec(__import__("base64").b64decode("' + Buffer.from(script).toString('base64') + '"))'}`, '--config', hive.configFile);
    expect(load.exitCode, load.stderr).toBe(0);
    const lines = await waitFor(async () => {
      const r = parsed((await hive.cli('logs', 'flood', '--json', '--config', hive.configFile)).stdout);
      return r.some((l) => String(l.msg).startsWith('big 9')) ? r : undefined;
    }, { timeout: 30_000, interval: 200, what: 'the flood\'s last line' });
    expect(lines).toHaveLength(LOG_RING_LINES);
    const raw = (await hive.cli('logs', 'flood', '--json', '--config', hive.configFile)).stdout.trim().split('\n');
    expect(Math.max(...raw.map((l) => Buffer.byteLength(l)))).toBeLessThanOrEqual(LOG_LINE_MAX);
    const big = lines.filter((l) => l.truncated === true);
    expect(big.length).toBeGreaterThanOrEqual(10);
    expect(big.at(-1)).toMatchObject({ level: 40, node: 'flood', truncated: true });
    expect(String(big.at(-1)!.msg)).toMatch(/^big 9z+$/);
    expect(Number(big.at(-1)!.bytes)).toBeGreaterThan(10_000);
    expect((await hive.cli('unload', 'flood', '--config', hive.configFile)).exitCode).toBe(0);
    expect((await hive.cli('logs', 'flood', '--config', hive.configFile)).exitCode).toBe(4);
  });
});

describe('NodeLogs', () => {
  it('keeps known nodes only, by child then node, newest last, and cuts a line that is not JSON', () => {
    const logs = new NodeLogs((n) => n === 'a' || n === 'b', 3);
    logs.take('{"level":30,"time":1,"node":"supervisor","kind":"supervisor","child":"a","msg":"started"}\n');
    logs.take('{"level":30,"time":2,"node":"a","msg":"mine"}');
    logs.take('{"level":30,"time":3,"node":"zz","msg":"not a node"}');
    logs.take('{"level":30,"time":3,"node":"supervisor","kind":"supervisor","msg":"about nobody"}');
    logs.take('not json');
    for (let i = 0; i < 5; i++) logs.take(`{"level":30,"time":${10 + i},"node":"b","msg":"b${i}"}`);
    expect(logs.lines('a', 0).map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['started', 'mine']);
    expect(logs.lines('b', 0).map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['b2', 'b3', 'b4']);
    expect(logs.lines('b', 1)).toHaveLength(1);
    expect(logs.lines('zz', 0)).toEqual([]);
    // A line too long to parse is still placed by the node bound at its start.
    logs.take(`{"level":50,"time":5,"node":"a","msg":"${'q'.repeat(100_000)}"}`);
    const stub = JSON.parse(logs.lines('a', 1)[0]!) as Record<string, unknown>;
    expect(stub).toMatchObject({ level: 50, node: 'a', truncated: true });
    expect(String(stub.msg).length).toBe(400);
    expect(logs.truncated).toBe(1);
  });

  it('takes `child` from the supervisor\'s lines only (kind: supervisor, which a node cannot set)', () => {
    const logs = new NodeLogs((n) => n === 'evil' || n === 'mouth' || n === 'supervisor');
    logs.take('{"level":50,"time":1,"node":"evil","child":"mouth","msg":"SASL password rejected"}');
    logs.take(`{"level":50,"time":2,"node":"evil","child":"mouth","msg":"${'q'.repeat(100_000)}"}`);
    // A plugin named supervisor: its own log, not the child's.
    logs.take('{"level":50,"time":3,"node":"supervisor","child":"mouth","msg":"forged"}');
    logs.take(`{"level":50,"time":4,"node":"supervisor","child":"mouth","msg":"${'q'.repeat(100_000)}"}`);
    logs.take('{"level":30,"time":5,"node":"supervisor","kind":"supervisor","child":"mouth","msg":"node started"}');
    logs.take(`{"level":30,"time":6,"node":"supervisor","kind":"supervisor","child":"mouth","msg":"${'q'.repeat(100_000)}"}`);
    const times = (n: string) => logs.lines(n, 0).map((l) => (JSON.parse(l) as { time: number }).time);
    expect(times('evil')).toEqual([1, 2]);
    expect(times('supervisor')).toEqual([3, 4]);
    expect(times('mouth')).toEqual([5, 6]);
  });

  it('caps a line by its bytes, not its characters', () => {
    const logs = new NodeLogs((n) => n === 'a');
    const line = (text: string) => `{"level":30,"time":1,"node":"a","msg":"${text}"}`;
    logs.take(line('é'.repeat(1000)));
    logs.take(line('€'.repeat(1000)));
    logs.take(line('e'.repeat(1000)));
    const kept = logs.lines('a', 0);
    expect(kept.map((l) => Buffer.byteLength(l) <= LOG_LINE_MAX)).toEqual([true, true, true]);
    expect(kept.map((l) => (JSON.parse(l) as { truncated?: boolean }).truncated === true)).toEqual([false, true, false]);
    expect(logs.truncated).toBe(1);
  });
});
