import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { ConfigError, describeValue, formatPath, formatProblem, zodProblems } from './config-errors.js';

describe('formatPath', () => {
  test('indices in brackets, keys joined with dots', () => {
    expect(formatPath(['plugins', 2, 'restart', 'max'])).toBe('plugins[2].restart.max');
    expect(formatPath([0, 'a'])).toBe('[0].a');
    expect(formatPath([])).toBe('');
  });

  test('keys that are not identifiers are quoted in brackets', () => {
    expect(formatPath(['networks', 'my-net', 'host'])).toBe('networks["my-net"].host');
    expect(formatPath(['a', 'with space'])).toBe('a["with space"]');
  });
});

describe('describeValue', () => {
  test('names the type and shows short values', () => {
    expect(describeValue('x')).toBe("string 'x'");
    expect(describeValue(5)).toBe('number 5');
    expect(describeValue(false)).toBe('boolean false');
    expect(describeValue(null)).toBe('null');
    expect(describeValue([1])).toBe('a list');
    expect(describeValue({ a: 1 })).toBe('a mapping');
  });

  test('long strings are cut and control characters escaped', () => {
    expect(describeValue('y'.repeat(100))).toBe(`string '${'y'.repeat(57)}...'`);
    expect(describeValue('a\nb')).toBe("string 'a\\nb'");
  });

  test('a value from the environment is never shown, only its variable', () => {
    expect(describeValue('hunter2', 'PASS')).toBe('the value of ${PASS} (hidden)');
  });
});

describe('ConfigError', () => {
  test('lists one problem per line with exit code 2', () => {
    const err = new ConfigError([
      { keyPath: ['a', 0], message: 'first' },
      { keyPath: [], message: 'whole file' },
    ]);
    expect(err.message).toBe('`a[0]`: first\nwhole file');
    expect(err.exitCode).toBe(2);
    expect(err).toBeInstanceOf(Error);
  });

  test('names the file in a header line when known', () => {
    expect(new ConfigError([{ keyPath: ['x'], message: 'bad' }], { file: 'hive.yaml' }).message).toBe('invalid config hive.yaml:\n`x`: bad');
  });

  test('a secret value that slipped into a message is cut out of message and problems', () => {
    const err = new ConfigError([{ keyPath: ['x'], message: 'oops hunter22 leaked' }], { secretValues: ['hunter22'] });
    expect(err.message).toBe('`x`: oops [secret] leaked');
    expect(err.problems[0]?.message).toBe('oops [secret] leaked');
    expect(Object.values(err).join(' ')).not.toContain('hunter22');
  });

  test('a location is appended to the line', () => {
    expect(formatProblem({ keyPath: ['bus'], message: 'bad', location: 'h.yaml:3:6' })).toBe('`bus`: bad (at h.yaml:3:6)');
  });
});

describe('zodProblems', () => {
  const problems = (schema: z.ZodType, input: unknown) => {
    const result = schema.safeParse(input);
    if (result.success) throw new Error('expected a failure');
    return zodProblems(result.error.issues, input).map(formatProblem);
  };

  test('zod wording is replaced by the key path and what was expected', () => {
    expect(problems(z.object({ port: z.number() }).strict(), { port: '80' })).toEqual(["`port`: expected a number, got string '80'"]);
    expect(problems(z.object({ n: z.number().int() }), { n: 1.5 })).toEqual(['`n`: expected an integer, got number 1.5']);
    expect(problems(z.object({ b: z.boolean() }), { b: 'yes' })).toEqual(["`b`: expected true or false, got string 'yes'"]);
  });

  test('each unknown key gets its own line with its full path', () => {
    expect(problems(z.object({ a: z.object({}).strict() }), { a: { x: 1, y: 2 } })).toEqual(["`a.x`: unknown key 'x'", "`a.y`: unknown key 'y'"]);
  });

  test('bounds are stated in words', () => {
    expect(problems(z.object({ s: z.string().min(1) }), { s: '' })).toEqual(["`s`: must not be empty, got string ''"]);
    expect(problems(z.object({ l: z.array(z.string()).min(1) }), { l: [] })).toEqual(['`l`: expected at least one entry, got a list']);
    expect(problems(z.object({ n: z.number().min(1) }), { n: 0 })).toEqual(['`n`: expected at least 1, got number 0']);
  });

  test('a value given by a secret is described without its value', () => {
    const result = z.object({ port: z.number() }).safeParse({ port: 'secret-port' });
    const lines = zodProblems(result.error!.issues, { port: 'secret-port' }, new Map([['port', 'PORT']])).map(formatProblem);
    expect(lines).toEqual(['`port`: expected a number, got the value of ${PORT} (hidden)']);
  });
});
