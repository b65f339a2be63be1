/**
 * A plugin is a module whose default export is `definePlugin(manifest, setup)`: its name, kind and
 * config schema, and the set-up function that receives the context and declares the commands
 * (each once, with its help and handler). Built-in plugins (`use: NAME`) and `exec:` plugins are
 * the same kind of file, run the same way: `node dist/plugins/run.js NAME|FILE`.
 *
 *   export default definePlugin({ name: 'ping', kind: 'responder' }, (hive) => {
 *     hive.command('ping', { help: 'ping — answers pong' }, (cmd) => cmd.reply('pong'));
 *   });
 *
 * `hive.config` is what the schema gives, checked once before the set-up runs. The schema is any
 * Standard Schema: the SDK's own checks (`hive/sdk/config`, no zod: zod costs a plugin process
 * ~8 MB) or a zod schema.
 * The set-up may return a clean-up function, run on shutdown.
 */
import type { SchemaOutput, StandardSchemaV1 } from './checks.js';
import type { Manifest, PluginContext } from './plugin.js';

export type Setup<C> = (hive: PluginContext<C>) => unknown;

export interface Plugin<C = unknown> {
  readonly manifest: Manifest;
  readonly setup: Setup<C>;
}

/** What definePlugin takes: a Manifest whose `config:` may be any Standard Schema. */
export type PluginManifest<S extends StandardSchemaV1 | undefined = StandardSchemaV1 | undefined> = Omit<Manifest, 'commands' | 'config'> & { config?: S };

export function definePlugin<S extends StandardSchemaV1 | undefined = undefined>(
  manifest: PluginManifest<S>,
  setup: Setup<SchemaOutput<S>>,
): Plugin<SchemaOutput<S>> {
  // run.ts checks `config` through its '~standard' interface only, whatever library made it.
  return Object.freeze({ manifest: manifest as unknown as Manifest, setup });
}

/** Whether a module's default export is a plugin (what the runner checks before running it). */
export function isPlugin(value: unknown): value is Plugin {
  if (typeof value !== 'object' || value === null) return false;
  const p = value as Partial<Plugin>;
  return typeof p.setup === 'function' && typeof p.manifest?.name === 'string' && typeof p.manifest.kind === 'string';
}
