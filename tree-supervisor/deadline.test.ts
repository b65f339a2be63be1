// Every Supervisor1 method is bounded by withDeadline (issue 14, item 13): a named Timeout, never a hang.
import { describe, expect, test } from 'vitest';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { HiveError } from '../protocol/errors.js';
import { OPERATION_DEADLINE_MS } from './supervisor-service.js';
import { stopWithDeadline, withDeadline } from './deadline.js';

describe('withDeadline', () => {
  test('an operation that never settles fails with a named Timeout', async () => {
    const never = new Promise<never>(() => undefined);
    const err = await withDeadline(never, 20, 'Stop').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HiveError);
    expect((err as HiveError).code).toBe('Timeout');
    expect((err as HiveError).message).toBe('Stop: not done within 20 ms');
  });

  test('passes results and errors through unchanged', async () => {
    await expect(withDeadline(Promise.resolve(7), 1000, 'Tree')).resolves.toBe(7);
    const refused = new HiveError('NoSuchNode', 'no node x');
    await expect(withDeadline(Promise.reject(refused), 1000, 'Stop')).rejects.toBe(refused);
  });

  test('the supervisor answers before the CLI gives up (30 s)', () => {
    expect(OPERATION_DEADLINE_MS).toBeLessThan(30_000);
  });
});

describe('stopWithDeadline', () => {
  test('a process that ignores SIGTERM is killed after the grace period', async () => {
    const child = spawn(process.execPath, ['-e', "process.on('SIGTERM', () => {}); console.log('up'); setInterval(() => {}, 1000)"], { stdio: ['ignore', 'pipe', 'ignore'] });
    await once(child.stdout!, 'data');
    const exited = once(child, 'exit');
    const t0 = Date.now();
    const gone = await stopWithDeadline({ gone: exited, ask: () => child.kill('SIGTERM'), force: () => child.kill('SIGKILL'), graceMs: 300, forceWaitMs: 2000 });
    expect(gone).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(child.signalCode).toBe('SIGKILL');
  });

  test('a process that ends on SIGTERM is not forced', async () => {
    const child = spawn(process.execPath, ['-e', "console.log('up'); setInterval(() => {}, 1000)"], { stdio: ['ignore', 'pipe', 'ignore'] });
    await once(child.stdout!, 'data');
    let forced = false;
    const gone = await stopWithDeadline({ gone: once(child, 'exit'), ask: () => child.kill('SIGTERM'), force: () => { forced = true; }, graceMs: 5000, forceWaitMs: 100 });
    expect(gone).toBe(true);
    expect(forced).toBe(false);
    expect(child.signalCode).toBe('SIGTERM');
  });

  test('one that cannot be stopped is given up after both deadlines, never waited on for ever', async () => {
    let forced = 0;
    const t0 = Date.now();
    const gone = await stopWithDeadline({ gone: new Promise(() => undefined), force: () => { forced++; }, graceMs: 50, forceWaitMs: 50 });
    expect(gone).toBe(false);
    expect(forced).toBe(1);
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});
