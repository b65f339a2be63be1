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
 * `hive.config` is what the schema gives (z.output of `config`), parsed once before the set-up runs.
 * The set-up may return a clean-up function, run on shutdown.
 */
import type { z } from 'zod';
import type { ConfigOf, Manifest, PluginContext } from './plugin.js';

export type Setup<C> = (hive: PluginContext<C>) => unknown;

export interface Plugin<C = unknown> {
  readonly manifest: Manifest;
  readonly setup: Setup<C>;
}

export function definePlugin<S extends z.ZodType | undefined = undefined>(
  manifest: Omit<Manifest<S>, 'commands'>,
  setup: Setup<ConfigOf<S>>,
): Plugin<ConfigOf<S>> {
  return Object.freeze({ manifest: manifest as Manifest, setup });
}

/** Whether a module's default export is a plugin (what the runner checks before running it). */
export function isPlugin(value: unknown): value is Plugin {
  if (typeof value !== 'object' || value === null) return false;
  const p = value as Partial<Plugin>;
  return typeof p.setup === 'function' && typeof p.manifest?.name === 'string' && typeof p.manifest.kind === 'string';
}
