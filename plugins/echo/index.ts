/**
 * echo: says back what it is given — the very bytes, so text that is not UTF-8 comes back as it
 * was sent. A CTCP other than ACTION in the text is refused by the mouth (CtcpNotAllowed): the
 * user gets "echo: failed (…)" and the channel no CTCP request.
 */
import { definePlugin } from '../../protocol/sdk/index.js';

export default definePlugin({ name: 'echo', kind: 'responder' }, (hive) => {
  hive.command('echo', { help: 'echo TEXT — says TEXT back', examples: [['!echo hello', 'hello']] }, (cmd) => cmd.reply(cmd.argsBytes));
});
