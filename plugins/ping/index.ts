/** ping: the smallest responder. */
import { definePlugin } from '../../protocol/sdk/index.js';

export default definePlugin({ name: 'ping', kind: 'responder' }, (hive) => {
  hive.command('ping', { help: 'ping — answers pong', examples: [['!ping', 'pong']] }, (cmd) => cmd.reply('pong'));
});
