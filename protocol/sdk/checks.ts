/**
 * The shapes a plugin checks its `config:` and its state file with, without zod.
 *
 * zod costs every process that loads it about 8 MB PSS (3 MB of heap, 9 MB of heap reserved;
 * docs/performance.md, issue 17), and six of the ten built-ins loaded it for nothing but a few
 * numbers and strings. These checks cover what plugins use (objects, numbers, strings, booleans,
 * literals, enums, arrays, records, optional/nullable/default, refine) with zod's method names,
 * and implement Standard Schema (https://standardschema.dev), the interface the runtime checks a
 * `config:` with: a plugin may as well give a zod (or valibot, arktype…) schema, at zod's cost.
 *
 *   const Config = c.object({ max_notes: c.number().int().min(1).max(100_000).default(1000) }).strict();
 *   type Config = c.Infer<typeof Config>;
 *
 * Every problem is reported, each with its path (`config.max_notes: expected at most 100000`).
 */
import { DURATION_MESSAGE, tryParseDuration } from '../duration.js';

/** Standard Schema v1 (https://github.com/standard-schema/standard-schema), the types as its spec says to copy them. */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': StandardSchemaV1.Props<Input, Output>;
}
// eslint-disable-next-line @typescript-eslint/no-namespace
export declare namespace StandardSchemaV1 {
  interface Props<Input = unknown, Output = Input> {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => Result<Output> | Promise<Result<Output>>;
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
  }
  type Result<Output> = { readonly value: Output; readonly issues?: undefined } | { readonly issues: ReadonlyArray<Issue> };
  interface Issue {
    readonly message: string;
    readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
  }
  type InferOutput<S extends StandardSchemaV1> = NonNullable<S['~standard']['types']>['output'];
}

export interface Issue { path: (string | number)[]; message: string }
export type SafeParse<O> = { success: true; data: O } | { success: false; error: { issues: Issue[] } };

/** What a check returns for a value it refused (its issues are already recorded). */
const BAD: unique symbol = Symbol('bad');
type Run<O> = (value: unknown, path: (string | number)[], issues: Issue[]) => O | typeof BAD;

function received(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : typeof v;
}

/** A check of one value, yielding O. Immutable: each method returns a new check. */
export class Check<O> implements StandardSchemaV1<unknown, O> {
  /** @internal */
  constructor(readonly run: Run<O>) {}

  readonly '~standard': StandardSchemaV1.Props<unknown, O> = {
    version: 1,
    vendor: 'hive',
    validate: (value) => {
      const r = this.safeParse(value);
      return r.success ? { value: r.data } : { issues: r.error.issues };
    },
  };

  safeParse(value: unknown): SafeParse<O> {
    const issues: Issue[] = [];
    const out = this.run(value, [], issues);
    return out === BAD || issues.length ? { success: false, error: { issues } } : { success: true, data: out };
  }

  parse(value: unknown): O {
    const r = this.safeParse(value);
    if (!r.success) throw new ConfigCheckError(r.error.issues);
    return r.data;
  }

  optional(): Check<O | undefined> {
    return new Check<O | undefined>((v, p, i) => (v === undefined ? undefined : this.run(v, p, i)));
  }

  nullable(): Check<O | null> {
    return new Check<O | null>((v, p, i) => (v === null ? null : this.run(v, p, i)));
  }

  /** `value` when the key is missing (a copy of it, so that no two configs share an object). */
  default(value: Exclude<O, undefined>): Check<Exclude<O, undefined>> {
    return new Check((v, p, i) => (v === undefined ? structuredClone(value) : this.run(v, p, i) as Exclude<O, undefined> | typeof BAD));
  }

  refine(ok: (value: O) => boolean, message: string): Check<O> {
    return new Check((v, p, i) => {
      const out = this.run(v, p, i);
      if (out === BAD) return BAD;
      if (!ok(out)) { i.push({ path: [...p], message }); return BAD; }
      return out;
    });
  }

  /** The checked value turned into another (the output type changes with it). */
  transform<T>(f: (value: O) => T): Check<T> {
    return new Check((v, p, i) => {
      const out = this.run(v, p, i);
      return out === BAD ? BAD : f(out);
    });
  }
}

export class ConfigCheckError extends Error {
  override name = 'ConfigCheckError';
  constructor(readonly issues: Issue[]) {
    super(issues.map((x) => `${x.path.join('.') || '(top)'}: ${x.message}`).join('; '));
  }
}

/** `saysReceived`: false for a literal or an enum, whose values would be named (a secret, maybe), not their type. */
function typed<O>(type: string, is: (v: unknown) => v is O, saysReceived = true): Run<O> {
  return (v, p, i) => {
    if (is(v)) return v;
    i.push({ path: [...p], message: saysReceived ? `expected ${type}, received ${received(v)}` : `expected ${type}` });
    return BAD;
  };
}

/** One more condition on a value already of the right type. */
function bound<O>(run: Run<O>, ok: (v: O) => boolean, message: string): Run<O> {
  return (v, p, i) => {
    const out = run(v, p, i);
    if (out === BAD) return BAD;
    if (!ok(out)) { i.push({ path: [...p], message }); return BAD; }
    return out;
  };
}

// `message` replaces the default message of a bound, as zod's second argument does.
export class NumberCheck extends Check<number> {
  int(message = 'expected an integer'): NumberCheck { return new NumberCheck(bound(this.run, Number.isInteger, message)); }
  min(n: number, message = `expected at least ${n}`): NumberCheck { return new NumberCheck(bound(this.run, (v) => v >= n, message)); }
  max(n: number, message = `expected at most ${n}`): NumberCheck { return new NumberCheck(bound(this.run, (v) => v <= n, message)); }
  positive(message = 'expected a number above 0'): NumberCheck { return new NumberCheck(bound(this.run, (v) => v > 0, message)); }
  nonnegative(message?: string): NumberCheck { return this.min(0, message); }
}

export class StringCheck extends Check<string> {
  min(n: number, message = `expected at least ${n} character${n === 1 ? '' : 's'}`): StringCheck { return new StringCheck(bound(this.run, (v) => v.length >= n, message)); }
  max(n: number, message = `expected at most ${n} characters`): StringCheck { return new StringCheck(bound(this.run, (v) => v.length <= n, message)); }
  regex(re: RegExp, message = `expected text matching ${String(re)}`): StringCheck {
    // A global or sticky regex keeps state between test() calls: a copy without those flags.
    const plain = new RegExp(re.source, re.flags.replace(/[gy]/g, ''));
    return new StringCheck(bound(this.run, (v) => plain.test(v), message));
  }
}

export class ArrayCheck<O> extends Check<O[]> {
  min(n: number, message = `expected at least ${n} item${n === 1 ? '' : 's'}`): ArrayCheck<O> { return new ArrayCheck(bound(this.run, (v) => v.length >= n, message)); }
  max(n: number, message = `expected at most ${n} items`): ArrayCheck<O> { return new ArrayCheck(bound(this.run, (v) => v.length <= n, message)); }
}

type Shape = Record<string, Check<unknown>>;
type Out<S> = S extends Check<infer O> ? O : never;
type Flat<T> = { [K in keyof T]: T[K] } & {};
/** A key whose check accepts undefined (optional) is an optional key of the output. */
type ObjectOut<S extends Shape> = Flat<
  { [K in keyof S as undefined extends Out<S[K]> ? K : never]?: Out<S[K]> } &
  { [K in keyof S as undefined extends Out<S[K]> ? never : K]: Out<S[K]> }
>;

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export class ObjectCheck<S extends Shape> extends Check<ObjectOut<S>> {
  constructor(readonly shape: S, readonly unknownKeys: 'strip' | 'strict' = 'strip') {
    super((v, p, i) => {
      if (!isPlainObject(v)) { i.push({ path: [...p], message: `expected an object, received ${received(v)}` }); return BAD; }
      const out: Record<string, unknown> = {};
      let bad = false;
      for (const [key, check] of Object.entries(shape)) {
        p.push(key);
        const r = check.run(Object.hasOwn(v, key) ? v[key] : undefined, p, i);
        p.pop();
        if (r === BAD) bad = true;
        else if (r !== undefined || Object.hasOwn(v, key)) out[key] = r;
      }
      if (unknownKeys === 'strict') {
        for (const key of Object.keys(v)) if (!Object.hasOwn(shape, key)) { i.push({ path: [...p, key], message: 'unknown key' }); bad = true; }
      }
      return bad ? BAD : out as ObjectOut<S>;
    });
  }
  /** Unknown keys are an error (a misspelt config key is named, not ignored). */
  strict(): ObjectCheck<S> { return new ObjectCheck(this.shape, 'strict'); }
}

export const c = {
  number: () => new NumberCheck(typed('a number', (v): v is number => typeof v === 'number' && Number.isFinite(v))),
  string: () => new StringCheck(typed('a string', (v): v is string => typeof v === 'string')),
  boolean: () => new Check(typed('true or false', (v): v is boolean => typeof v === 'boolean')),
  literal: <const L extends string | number | boolean>(value: L) => new Check(typed(JSON.stringify(value), (v): v is L => v === value, false)),
  enum: <const L extends readonly string[]>(values: L) =>
    new Check(typed(`one of ${values.map((x) => `'${x}'`).join(', ')}`, (v): v is L[number] => typeof v === 'string' && values.includes(v), false)),
  object: <S extends Shape>(shape: S) => new ObjectCheck(shape),
  array: <O>(item: Check<O>) => new ArrayCheck<O>((v, p, i) => {
    if (!Array.isArray(v)) { i.push({ path: [...p], message: `expected an array, received ${received(v)}` }); return BAD; }
    const out: O[] = [];
    let bad = false;
    v.forEach((x, n) => { p.push(n); const r = item.run(x, p, i); p.pop(); if (r === BAD) bad = true; else out.push(r); });
    return bad ? BAD : out;
  }),
  /** An object used as a map: each key checked by `key`, each value by `value` (zod's argument order). */
  record: <O>(key: Check<string>, value: Check<O>) => new Check<Record<string, O>>((v, p, i) => {
    if (!isPlainObject(v)) { i.push({ path: [...p], message: `expected an object, received ${received(v)}` }); return BAD; }
    const out: Record<string, O> = {};
    let bad = false;
    for (const [k, x] of Object.entries(v)) {
      p.push(k);
      const r = key.run(k, p, i) === BAD ? BAD : value.run(x, p, i);
      p.pop();
      if (r === BAD) bad = true;
      // A key such as __proto__ is data here, not the prototype (JSON.parse makes it an own key).
      else Object.defineProperty(out, k, { value: r, enumerable: true, writable: true, configurable: true });
    }
    return bad ? BAD : out;
  }),
  /** Any value `ok` accepts, typed as O. */
  custom: <O>(ok: (v: unknown) => boolean, message: string) => new Check<O>((v, p, i) => {
    if (ok(v)) return v as O;
    i.push({ path: [...p], message });
    return BAD;
  }),
  /** A duration as the config writes it (`30s`, `5m`, or a number of ms; protocol/duration.ts), yielding ms. */
  duration: () => new Check<number>((v, p, i) => {
    const ms = tryParseDuration(v);
    if (ms === undefined) { i.push({ path: [...p], message: DURATION_MESSAGE }); return BAD; }
    return ms;
  }),
};

// eslint-disable-next-line @typescript-eslint/no-namespace
export declare namespace c {
  /** The type a check yields: `type Config = c.Infer<typeof Config>`. */
  type Infer<S extends Check<unknown>> = Out<S>;
}

/** The output of a config schema: of our checks, or of any Standard Schema (zod's included). */
export type SchemaOutput<S> = S extends Check<infer O> ? O : S extends StandardSchemaV1 ? StandardSchemaV1.InferOutput<S> : Record<string, unknown>;
