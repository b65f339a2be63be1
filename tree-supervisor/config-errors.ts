/**
 * Config errors a person can act on: every problem on its own line, named by the exact key
 * path as written in the YAML ("`plugins[2].restart.max`: expected a number, got string 'x'").
 * Zod's own messages are replaced because they speak of schemas, not of the user's file.
 * A value that came from an environment variable is never shown, only the variable's name.
 */
import type { z } from 'zod';

export type KeyPath = readonly (string | number)[];

export interface ConfigProblem {
  /** Where in the config; empty for the file as a whole. */
  readonly keyPath: KeyPath;
  readonly message: string;
  /** "file:line:col" when the problem could be traced to the YAML source. */
  readonly location?: string;
}

/** Key path → name of the environment variable its value came from. */
export type SecretSources = ReadonlyMap<string, string>;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** ['plugins', 2, 'restart', 'max'] → "plugins[2].restart.max"; odd keys as ["my-key"]. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && IDENTIFIER.test(key)) out += out === '' ? key : `.${key}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

/** One line of a ConfigError message. */
export function formatProblem(problem: ConfigProblem): string {
  const where = problem.keyPath.length > 0 ? `\`${formatPath(problem.keyPath)}\`: ` : '';
  const at = problem.location ? ` (at ${problem.location})` : '';
  return `${where}${problem.message}${at}`;
}

/** The config cannot be used; exit code 2 is the CLI's "bad usage/config" code. */
export class ConfigError extends Error {
  readonly exitCode = 2;
  readonly problems: readonly ConfigProblem[];
  readonly file: string | undefined;

  /** `secretValues` are cut out of the message as a last line of defence against leaks. */
  constructor(problems: readonly ConfigProblem[], options: { file?: string; secretValues?: Iterable<string> } = {}) {
    // Scrub the problems themselves (not just the message) so they can be rebuilt safely;
    // the secret values are not kept on the error, which may be logged with all its fields.
    const secretValues = [...(options.secretValues ?? [])];
    const clean = problems.map((p) => ({ ...p, message: scrub(p.message, secretValues) }));
    const header = options.file ? [`invalid config ${options.file}:`] : [];
    super([...header, ...clean.map(formatProblem)].join('\n'));
    this.name = 'ConfigError';
    this.problems = clean;
    this.file = options.file;
  }
}

/** Replaces secret values of 4+ characters (shorter ones would garble the text; they are never printed anyway). */
function scrub(text: string, secretValues: Iterable<string>): string {
  let out = text;
  for (const value of secretValues) {
    if (value.length >= 4) out = out.split(value).join('[secret]');
  }
  return out;
}

/** A short, safe description of a value for "got …". */
export function describeValue(value: unknown, secretVar?: string): string {
  if (secretVar !== undefined) return `the value of \${${secretVar}} (hidden)`;
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string':
      return `string ${quote(value.length > 60 ? `${value.slice(0, 57)}...` : value)}`;
    case 'number':
    case 'boolean':
    case 'bigint':
      return `${typeof value} ${String(value)}`;
    case 'object':
      return 'a mapping';
    default:
      return typeof value;
  }
}

export function quote(text: string): string {
  return `'${text.replace(/[\r\n\t]/g, (c) => JSON.stringify(c).slice(1, -1))}'`;
}

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'a mapping',
  record: 'a mapping',
  array: 'a list',
  tuple: 'a list',
  null: 'null',
};

function expectedText(expected: string): string {
  return EXPECTED[expected] ?? `a ${expected}`;
}

export { CROSS_FIELD } from '../protocol/cross-field.js';

function crossField(issue: z.core.$ZodIssue): boolean {
  return issue.code === 'custom' && issue.params?.crossField === true;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): { found: boolean; value: unknown } {
  let node: unknown = root;
  for (const key of path) {
    if (node === null || typeof node !== 'object' || !Object.prototype.hasOwnProperty.call(node, key)) {
      return { found: false, value: undefined };
    }
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return { found: true, value: node };
}

function toKeyPath(path: readonly PropertyKey[]): (string | number)[] {
  return path.map((k) => (typeof k === 'number' ? k : String(k)));
}

function listValues(values: readonly unknown[]): string {
  return values.map((v) => (typeof v === 'string' ? quote(v) : String(v))).join(', ');
}

function bound(kind: 'least' | 'most', origin: string, limit: number | bigint, inclusive: boolean | undefined): string {
  const n = Number(limit);
  if (origin === 'string') return kind === 'least' && n === 1 ? 'must not be empty' : `expected at ${kind} ${n} characters`;
  if (origin === 'array' || origin === 'set') {
    return kind === 'least' && n === 1 ? 'expected at least one entry' : `expected at ${kind} ${n} entries`;
  }
  if (inclusive === false) return `expected ${kind === 'least' ? 'more' : 'less'} than ${n}`;
  return `expected at ${kind} ${n}`;
}

/**
 * Turns zod issues into problems, reading the offending values from `input` (the object that
 * was parsed). `secrets` maps formatted key paths to the env var their value came from.
 */
export function zodProblems(
  issues: readonly z.core.$ZodIssue[],
  input: unknown,
  secrets: SecretSources = new Map(),
  prefix: readonly PropertyKey[] = [],
): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    const { found, value } = valueAt(input, path);
    const got = () => `, got ${describeValue(value, secrets.get(formatPath(path)))}`;
    const add = (message: string, at: readonly PropertyKey[] = path) => out.push({ keyPath: toKeyPath(at), message });

    switch (issue.code) {
      case 'invalid_type':
        if (!found) add(`is required (expected ${expectedText(issue.expected)})`);
        else add(`expected ${expectedText(issue.expected)}${got()}`);
        break;
      case 'unrecognized_keys':
        for (const key of issue.keys) add(`unknown key ${quote(key)}`, [...path, key]);
        break;
      case 'invalid_union': {
        if (issue.errors.length === 0 && 'options' in issue && issue.options) {
          // A discriminated union whose discriminator (e.g. `type`) matched no option.
          const expected = `expected one of ${listValues(issue.options)}`;
          add(found ? `${expected}${got()}` : `is required (${expected})`);
          break;
        }
        // Prefer the branch that accepted the value's type and failed deeper: that is the one
        // the user meant (a channel given as an object with a typo, not "expected a string").
        const meant = issue.errors.find((branch) => branch.some((i) => !(i.code === 'invalid_type' && i.path.length === 0)));
        if (meant) {
          out.push(...zodProblems(meant, input, secrets, path));
          break;
        }
        const expected = issue.errors.flatMap((branch) =>
          branch.filter((i) => i.code === 'invalid_type').map((i) => expectedText((i as z.core.$ZodIssueInvalidType).expected)),
        );
        const unique = [...new Set(expected)];
        add(unique.length > 0 ? `expected ${unique.join(' or ')}${got()}` : `${issue.message}${got()}`);
        break;
      }
      case 'invalid_key':
        for (const inner of issue.issues) add(`invalid key: ${inner.message}`);
        break;
      case 'invalid_value':
        add(issue.values.length === 1 ? `expected ${listValues(issue.values)}${got()}` : `expected one of ${listValues(issue.values)}${got()}`);
        break;
      case 'too_small':
        add(`${bound('least', issue.origin, issue.minimum, issue.inclusive)}${got()}`);
        break;
      case 'too_big':
        add(`${bound('most', issue.origin, issue.maximum, issue.inclusive)}${got()}`);
        break;
      case 'not_multiple_of':
        add(`expected a multiple of ${issue.divisor}${got()}`);
        break;
      default:
        // invalid_format and custom carry our own wording (set on the schemas).
        // Cross-field refinements (params.crossField) and refinements of a whole mapping get no
        // "got": the value alone is not what is wrong.
        add(found && !crossField(issue) && (value === null || typeof value !== 'object') ? `${issue.message}${got()}` : issue.message);
    }
  }
  return out;
}
