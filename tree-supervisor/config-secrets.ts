/**
 * Secrets in the config: a whole-string "${NAME}" is replaced by the environment variable NAME
 * ("$${NAME}" stays literally "${NAME}"), and the key paths it went to are remembered so that
 * logs show '[secret]' there. A secret's value is never put in a message.
 */
import { formatPath, type ConfigProblem } from './config-errors.js';

type Env = Record<string, string | undefined>;

const SECRET = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;
const ESCAPED_SECRET = /^\$(\$\{[A-Za-z_][A-Za-z0-9_]*\})$/;

interface Substituted {
  value: unknown;
  /** Formatted key path → env var name. */
  secrets: Map<string, string>;
  secretValues: string[];
  problems: ConfigProblem[];
}

/** Replaces every whole-string "${NAME}" by the env var; "$${NAME}" stays literally "${NAME}". */
export function substituteSecrets(input: unknown, env: Env): Substituted {
  const result: Substituted = { value: undefined, secrets: new Map(), secretValues: [], problems: [] };
  const walk = (node: unknown, path: (string | number)[]): unknown => {
    if (typeof node === 'string') {
      const escaped = ESCAPED_SECRET.exec(node);
      if (escaped) return escaped[1];
      const m = SECRET.exec(node);
      if (!m) return node;
      const name = m[1] as string;
      const value = env[name];
      if (value === undefined) {
        result.problems.push({ keyPath: [...path], message: `environment variable ${name} is not set` });
        return node; // zod problems at this path are dropped, so the placeholder is never judged
      }
      result.secrets.set(formatPath(path), name);
      result.secretValues.push(value);
      return value;
    }
    if (Array.isArray(node)) return node.map((item, i) => walk(item, [...path, i]));
    if (isRecord(node)) {
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(node)) out[key] = walk(item, [...path, key]);
      return out;
    }
    return node;
  };
  result.value = walk(input, []);
  return result;
}

/** A copy of `config` with every secret path's value replaced by '[secret]', for logging. */
export function redactSecrets<T>(config: T, secretPaths: ReadonlySet<string>): T {
  const walk = (node: unknown, path: (string | number)[]): unknown => {
    if (path.length > 0 && secretPaths.has(formatPath(path))) return '[secret]';
    if (Array.isArray(node)) return node.map((item, i) => walk(item, [...path, i]));
    if (isRecord(node)) return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, walk(v, [...path, k])]));
    return node;
  };
  return walk(config, []) as T;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
