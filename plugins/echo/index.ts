/** echo: says back what it is given. */
import type { Manifest, PluginContext } from '../../protocol/sdk/index.js';

export const manifest: Manifest = {
  name: 'echo',
  kind: 'responder',
  commands: { echo: { help: 'echo TEXT — says TEXT back', examples: [['!echo hello', 'hello']] } },
};

export default function echo(hive: PluginContext): void {
  hive.command('echo', (cmd) => cmd.reply(cmd.args));
}
