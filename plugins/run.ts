/**
 * `node dist/plugins/run.js NAME` runs the built-in plugin NAME (plugins/NAME/index.ts) as a node
 * process; the supervisor uses it for `use: NAME`. `node dist/plugins/run.js FILE` runs the plugin
 * a compiled module exports (an `exec:` plugin, plugins/examples/typescript/dice.ts): the same kind
 * of file, `export default definePlugin(…)`, run the same way.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isPlugin } from '../protocol/sdk/define.js';
import { run } from '../protocol/sdk/run.js';
import { NAME_PATTERN } from '../protocol/sdk/index.js';

const arg = process.argv[2];
const builtIn = arg !== undefined && NAME_PATTERN.test(arg);
if (!arg || (!builtIn && !/\.[cm]?js$/.test(arg))) {
  process.stderr.write('usage: node dist/plugins/run.js PLUGIN | FILE.js\n');
  process.exit(2);
}
let mod: { default?: unknown };
try {
  mod = await import(builtIn ? `./${arg}/index.js` : pathToFileURL(resolve(arg)).href);
} catch (err) {
  process.stderr.write(builtIn ? `no built-in plugin '${arg}': ${(err as Error).message}\n` : `cannot load the plugin ${arg}: ${(err as Error).message}\n`);
  process.exit(2);
}
if (!isPlugin(mod.default)) {
  process.stderr.write(`${arg}: its default export is not a plugin (export default definePlugin(…))\n`);
  process.exit(2);
}
await run(mod.default);
