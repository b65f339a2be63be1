/**
 * The config checks of the running supervisor, each in a short-lived process of its own (issue 17).
 * Reading a config (`hive up`, `hive reload`, SIGHUP) and a `hive load` spec takes yaml, zod and
 * the schemas: ~6 MB of PSS that a supervisor holding them would keep for its whole life, for a
 * check it makes at start and at each reload. The checks are config-check.ts's, unchanged (zod at
 * the boundary); only their verdict comes back: the checked config, or the same ConfigError /
 * HiveError they throw.
 *
 * A process, not a worker thread: a worker's isolate left ~4 MB in this process for seconds after
 * it ended, which gc() did not give back. The child has this process's environment (a config's
 * ${NAME} secrets are filled from it). Bounded: CHECK_TIMEOUT_MS, CHECK_HEAP_MB of heap and
 * ANSWER_MAX_BYTES of answer; past any, it is killed and the check fails with ConfigCheckError.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { HiveError, type ErrorName } from '../protocol/errors.js';
import type { HiveConfig, LoadedConfig, PluginSpec } from './config.js';
import { ConfigError, type ConfigProblem } from './config-errors.js';

const CHECK_SCRIPT = fileURLToPath(new URL('./config-check.js', import.meta.url));
/** A checked config is plain data a few times the size of its file (YAML_LIMITS bounds the file). */
export const ANSWER_MAX_BYTES = 32 * 1024 * 1024;
export const CHECK_TIMEOUT_MS = 30_000;
export const CHECK_HEAP_MB = 256;

export type CheckRequest =
  /** A config file, as readHiveConfig reads it (every problem with its line). */
  | { do: 'file'; file: string }
  /** The embedded default config (`hive up` without --config). */
  | { do: 'default' }
  /** A Supervisor1.Load spec, as parseLoadSpec checks it against the live tree's nodes. */
  | { do: 'load'; text: string; nodes: string[]; baseDir: string };

/** What config-check.ts answers, as JSON: errors travel as their fields (a checked config is plain data). */
export type CheckAnswer =
  | { ok: true; config: HiveConfig; secretPaths: string[] }
  | { ok: true; spec: PluginSpec }
  | { ok: false; config: { problems: ConfigProblem[]; file?: string } }
  | { ok: false; hive: { code: ErrorName; message: string } }
  | { ok: false; other: string };

/** The failure of the check itself (not a problem of the config): its process died, hung, or answered too much. */
export class ConfigCheckError extends Error {
  override name = 'ConfigCheckError';
}

function runCheck(req: CheckRequest, timeoutMs = CHECK_TIMEOUT_MS): Promise<CheckAnswer> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`--max-old-space-size=${CHECK_HEAP_MB}`, CHECK_SCRIPT], { stdio: ['pipe', 'pipe', 'inherit'] });
    const chunks: Buffer[] = [];
    let size = 0;
    let failed: ConfigCheckError | undefined;
    const fail = (why: string) => { failed ??= new ConfigCheckError(why); child.kill('SIGKILL'); };
    const timer = setTimeout(() => fail(`the config check did not end within ${timeoutMs} ms`), timeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      size += d.length;
      if (size > ANSWER_MAX_BYTES) fail(`the config check answered more than ${ANSWER_MAX_BYTES} bytes`);
      else chunks.push(d);
    });
    // A child that ended before reading its request: its exit says why.
    child.stdin.on('error', () => undefined);
    child.once('error', (err) => fail(`the config check could not start: ${err.message}`));
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (failed) return reject(failed);
      try {
        const answer = JSON.parse(Buffer.concat(chunks).toString('utf8')) as CheckAnswer;
        if (answer && typeof answer === 'object' && typeof answer.ok === 'boolean') return resolve(answer);
      } catch { /* said below */ }
      reject(new ConfigCheckError(`the config check ended (${signal ?? `exit ${code}`}) without a verdict`));
    });
    child.stdin.end(JSON.stringify(req));
  });
}

/** The error a failed check threw in its process, made again here. */
function thrown(a: Extract<CheckAnswer, { ok: false }>): Error {
  if ('config' in a) return new ConfigError(a.config.problems, { file: a.config.file });
  if ('hive' in a) return new HiveError(a.hive.code, a.hive.message);
  return new ConfigCheckError(a.other);
}

/**
 * readHiveConfig (read-config.ts) in its own process: throws its ConfigError. A file that never
 * ends (a FIFO nobody writes) holds only that process, which is killed at `timeoutMs`.
 */
export async function readHiveConfigChecked(file: string, o: { timeoutMs?: number } = {}): Promise<LoadedConfig> {
  const a = await runCheck({ do: 'file', file }, o.timeoutMs);
  if (!a.ok) throw thrown(a);
  if (!('config' in a)) throw new ConfigCheckError('the config check answered without a config');
  return { config: a.config, secretPaths: new Set(a.secretPaths) };
}

/** defaultConfig (config.ts) in its own process. */
export async function defaultConfigChecked(): Promise<HiveConfig> {
  const a = await runCheck({ do: 'default' });
  if (!a.ok) throw thrown(a);
  if (!('config' in a)) throw new ConfigCheckError('the config check answered without a config');
  return a.config;
}

/** parseLoadSpec (load-spec.ts) in its own process: throws its HiveError (InvalidArgs). */
export async function parseLoadSpecChecked(text: string, nodes: readonly string[], baseDir: string): Promise<PluginSpec> {
  const a = await runCheck({ do: 'load', text, nodes: [...nodes], baseDir });
  if (!a.ok) throw thrown(a);
  if (!('spec' in a)) throw new ConfigCheckError('the spec check answered without a spec');
  return a.spec;
}

/** `hive up`'s config: the file's, or the embedded default. Started before the supervisor's own modules load, to overlap them. */
export function checkUpConfig(file: string | undefined): Promise<LoadedConfig> {
  return file ? readHiveConfigChecked(file) : defaultConfigChecked().then((config) => ({ config, secretPaths: new Set<string>() }));
}
