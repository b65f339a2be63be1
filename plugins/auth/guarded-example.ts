/**
 * A capability-guarded responder, as small as one can be: `secret` answers only to a speaker with
 * the `admin` capability (which an auth filter above it grants). An example for plugin authors and
 * the responder the auth tests put under the filter: `node dist/plugins/auth/guarded-example.js`.
 */
import { hasCapability, runPlugin } from '../../protocol/sdk/index.js';

await runPlugin(
  { name: 'guarded', kind: 'responder', commands: { secret: { help: 'secret — tells the secret, only to admin', examples: [['!secret', 'the secret']] } } },
  (hive) => hive.command('secret', (cmd) => cmd.reply(hasCapability(cmd.message.meta, 'admin') ? 'the secret' : 'not allowed: secret needs the admin capability')),
);
