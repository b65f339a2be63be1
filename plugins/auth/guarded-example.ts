/**
 * A capability-guarded responder, as small as one can be: `secret` answers only to a speaker with
 * the `admin` capability (which an auth filter above it grants). An example for plugin authors and
 * the responder the auth tests put under the filter:
 * `node dist/plugins/run.js dist/plugins/auth/guarded-example.js`.
 */
import { definePlugin, hasCapability } from '../../protocol/sdk/index.js';

export default definePlugin({ name: 'guarded', kind: 'responder' }, (hive) => {
  hive.command('secret', { help: 'secret — tells the secret, only to admin', examples: [['!secret', 'the secret']] },
    (cmd) => cmd.reply(hasCapability(cmd.message.meta, 'admin') ? 'the secret' : 'not allowed: secret needs the admin capability'));
});
