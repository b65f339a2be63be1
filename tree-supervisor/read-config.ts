/**
 * Reading a hive's config file as `hive up` and `hive reload` both do: loadConfig (every problem
 * named by its key and line), then what only the running side can check: that each `use:` names a
 * built-in plugin of this build. One ConfigError for all of it.
 */
import { resolve } from 'node:path';
import { ConfigError, loadConfig, type HiveConfig, type LoadedConfig } from './config.js';
import { builtinPluginExists } from './node-process.js';

export function readHiveConfig(file: string): LoadedConfig {
  const loaded = loadConfig(resolve(file));
  checkBuiltins(loaded.config, file);
  return loaded;
}

/** Each `use:` must name a built-in plugin of this build. */
export function checkBuiltins(config: Pick<HiveConfig, 'plugins'>, file?: string): void {
  const unknown = config.plugins.map((p, i) => [p.use, i] as const).filter(([u]) => u !== undefined && !builtinPluginExists(u));
  if (unknown.length) {
    throw new ConfigError(unknown.map(([u, i]) => ({ keyPath: ['plugins', i, 'use'], message: `no built-in plugin '${u}'` })), { file });
  }
}
