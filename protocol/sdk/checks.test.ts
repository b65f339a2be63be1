import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { c } from './checks.js';

const Config = c.object({
  max: c.number().int().min(1).max(100).default(10),
  name: c.string().min(1).max(8).optional(),
  mode: c.enum(['channel', 'network']).default('channel'),
  delay: c.duration().default(1000),
  on: c.boolean().default(true),
}).strict();

describe('checks', () => {
  it('gives the defaults for an empty config, and the values given otherwise', () => {
    expect(Config.parse({})).toEqual({ max: 10, mode: 'channel', delay: 1000, on: true });
    expect(Config.parse({ max: 3, name: 'a', mode: 'network', delay: '5m', on: false })).toEqual({ max: 3, name: 'a', mode: 'network', delay: 300_000, on: false });
  });

  it('names every bad key, with what was expected', () => {
    const r = Config.safeParse({ max: 1.5, name: '', mode: 'everywhere', delay: 'soon', on: 'yes', maxx: 3 });
    expect(r.success).toBe(false);
    const issues = r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(issues).toEqual([
      'max: expected an integer',
      'name: expected at least 1 character',
      "mode: expected one of 'channel', 'network'",
      'delay: expected a duration like 30s, 5m or a number of ms',
      'on: expected true or false, received string',
      'maxx: unknown key',
    ]);
  });

  it('refuses values of the wrong type at any depth, and NaN and Infinity as numbers', () => {
    const State = c.object({ version: c.literal(1), scopes: c.record(c.string(), c.object({ n: c.number().positive(), notes: c.array(c.string()) })) });
    expect(State.safeParse({ version: 1, scopes: { a: { n: 1, notes: ['x'] } } }).success).toBe(true);
    const bad = State.safeParse({ version: 2, scopes: { a: { n: 0, notes: ['x', 3] }, b: null } });
    expect(bad.success ? [] : bad.error.issues.map((i) => i.path.join('.'))).toEqual(['version', 'scopes.a.n', 'scopes.a.notes.1', 'scopes.b']);
    for (const hostile of [null, [], 'x', 42, undefined]) expect(State.safeParse(hostile).success).toBe(false);
    expect(c.number().safeParse(NaN).success).toBe(false);
    expect(c.number().safeParse(Infinity).success).toBe(false);
  });

  it('keeps a __proto__ key of a record as data, without touching the prototype', () => {
    const r = c.record(c.string(), c.number()).parse(JSON.parse('{"__proto__": 1, "a": 2}'));
    expect(Object.getPrototypeOf(r)).toBe(Object.prototype);
    expect(Object.keys(r)).toEqual(['__proto__', 'a']);
  });

  it('drops unknown keys of a non-strict object; an optional key missing stays missing', () => {
    const o = c.object({ a: c.string().optional(), b: c.number().nullable() });
    expect(o.parse({ b: null, extra: 1 })).toEqual({ b: null });
    expect('a' in o.parse({ b: 1 })).toBe(false);
  });

  it('gives each config its own copy of an object default', () => {
    const o = c.object({ list: c.array(c.string()).default([]) });
    const a = o.parse({}), b = o.parse({});
    a.list.push('x');
    expect(b.list).toEqual([]);
  });

  it('answers through Standard Schema as zod does, so that the runtime checks either alike', async () => {
    const ours = await Config['~standard'].validate({ max: 0 });
    const zods = await z.object({ max: z.number().min(1) })['~standard'].validate({ max: 0 });
    expect(ours.issues?.[0]?.path).toEqual(['max']);
    expect(zods.issues?.[0]?.path).toEqual(['max']);
    expect(await Config['~standard'].validate({})).toEqual({ value: { max: 10, mode: 'channel', delay: 1000, on: true } });
  });

  it('refine and custom report their own message at the value\'s path', () => {
    const o = c.object({ even: c.number().refine((n) => n % 2 === 0, 'expected an even number'), any: c.custom<string>((v) => v === 'ok', 'expected ok') });
    const r = o.safeParse({ even: 3, any: 'no' });
    expect(r.success ? [] : r.error.issues).toEqual([{ path: ['even'], message: 'expected an even number' }, { path: ['any'], message: 'expected ok' }]);
  });

  it('regex, array bounds and custom messages, as zod spells them', () => {
    const o = c.object({
      word: c.string().regex(/^[a-z]+$/g, 'expected a word'),
      list: c.array(c.number()).min(2, 'at least two'),
      token: c.string().min(4, 'too short'),
    });
    const r = o.safeParse({ word: 'Two words', list: [1], token: 'abc' });
    expect(r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual(['word: expected a word', 'list: at least two', 'token: too short']);
    // A /g regex tested twice gives the same answer (no lastIndex carried over).
    expect(o.safeParse({ word: 'abc', list: [1, 2], token: 'abcd' }).success).toBe(true);
    expect(o.safeParse({ word: 'abc', list: [1, 2], token: 'abcd' }).success).toBe(true);
  });
});
