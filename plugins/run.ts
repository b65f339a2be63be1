/**
 * `node dist/plugins/run.js NAME` runs the built-in plugin NAME (plugins/NAME/index.ts) as a node
 * process. The supervisor uses it for `use: NAME`.
 */
import { runPlugin } from '../protocol/sdk/run.js';
import type { Manifest, PluginContext } from '../protocol/sdk/plugin.js';
import { NAME_PATTERN } from '../protocol/names.js';

const name = process.argv[2];
if (!name || !NAME_PATTERN.test(name)) {
  process.stderr.write('usage: node dist/plugins/run.js PLUGIN\n');
  process.exit(2);
}
let mod: { manifest: Manifest; default: (ctx: PluginContext) => unknown };
try {
  mod = await import(`./${name}/index.js`);
} catch (err) {
  process.stderr.write(`no built-in plugin '${name}': ${(err as Error).message}\n`);
  process.exit(2);
}
await runPlugin(mod.manifest, mod.default);
