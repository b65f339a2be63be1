/**
 * Reading a hive's config file as `hive up` and `hive reload` both do: loadConfig (every problem
 * named by its key and line), then what only the running side can check: that each `use:` names a
 * built-in plugin of this build. One ConfigError for all of it.
 */
import { resolve } from 'node:path';
import { ConfigError, loadConfig, type HiveConfig, type LoadedConfig } from './config.js';
import { builtinPluginBuilt } from './config-checks.js';
import { formatPath } from './config-errors.js';
import { parseBoundedYaml, readBounded } from './yaml-bounds.js';

export function readHiveConfig(file: string): LoadedConfig {
  const loaded = loadConfig(resolve(file));
  checkBuiltins(loaded.config, file);
  return loaded;
}

/** config-secrets.ts's problem for a ${NAME} whose variable is not set. */
const UNSET = /^environment variable [A-Za-z_][A-Za-z0-9_]* is not set$/;

/**
 * `hive reload --config FILE`'s check in the operator's shell: every problem except a ${NAME}
 * whose variable this shell does not have. The supervisor fills ${NAME} from its own environment
 * (`hive up`'s at its start: a unit's Environment=/EnvironmentFile=) and checks them itself.
 */
export function precheckConfig(file: string): void {
  try {
    readHiveConfig(file);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const rest = err.problems.filter((p) => !UNSET.test(p.message));
    if (rest.length) throw new ConfigError(rest, { file: err.file ?? file });
  }
}

/**
 * The instance a config file names, for the CLI to find its hive: a file whose only problems are
 * ${NAME}s this shell does not have (the hive's own environment has them) still names it.
 */
export function instanceOfConfig(file: string): string {
  try {
    return loadConfig(resolve(file)).config.instance;
  } catch (err) {
    if (!(err instanceof ConfigError) || err.problems.some((p) => formatPath(p.keyPath) === 'instance')) throw err;
    // Its other problems only: an unset ${NAME} may well be set where the hive runs.
    const rest = err.problems.filter((p) => !UNSET.test(p.message));
    if (rest.length) throw new ConfigError(rest, { file: err.file ?? file });
    // Checked but for the secrets: `instance` is valid as the file gives it (or its default).
    const parsed = parseBoundedYaml(readBounded(resolve(file)), file);
    const value = 'value' in parsed ? (parsed.value as { instance?: unknown } | null)?.instance : undefined;
    return typeof value === 'string' ? value : 'default';
  }
}

/** Each `use:` must name a built-in plugin of this build. */
export function checkBuiltins(config: Pick<HiveConfig, 'plugins'>, file?: string): void {
  const unknown = config.plugins.map((p, i) => [p.use, i] as const).filter(([u]) => u !== undefined && !builtinPluginBuilt(u));
  if (unknown.length) {
    throw new ConfigError(unknown.map(([u, i]) => ({ keyPath: ['plugins', i, 'use'], message: `no built-in plugin '${u}'` })), { file });
  }
}
