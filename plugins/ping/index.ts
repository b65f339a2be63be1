/** ping: the smallest responder. */
import type { Manifest, PluginContext } from '../../protocol/sdk/index.js';

export const manifest: Manifest = {
  name: 'ping',
  kind: 'responder',
  commands: { ping: { help: 'ping — answers pong', examples: [['!ping', 'pong']] } },
};

export default function ping(hive: PluginContext): void {
  hive.command('ping', (cmd) => cmd.reply('pong'));
}
