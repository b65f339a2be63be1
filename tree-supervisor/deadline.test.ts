// Every Supervisor1 method is bounded by withDeadline (issue 14, item 13): a named Timeout, never a hang.
import { describe, expect, test } from 'vitest';
import { HiveError } from '../protocol/errors.js';
import { OPERATION_DEADLINE_MS, withDeadline } from './supervisor.js';

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
