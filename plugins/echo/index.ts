/**
 * echo: says back what it is given — the very bytes, so text that is not UTF-8 comes back as it
 * was sent. A CTCP other than ACTION in the text is refused by the mouth (CtcpNotAllowed): the
 * user gets "echo: failed (…)" and the channel no CTCP request.
 */
import type { Manifest, PluginContext } from '../../protocol/sdk/index.js';

export const manifest: Manifest = {
  name: 'echo',
  kind: 'responder',
  commands: { echo: { help: 'echo TEXT — says TEXT back', examples: [['!echo hello', 'hello']] } },
};

export default function echo(hive: PluginContext): void {
  hive.command('echo', (cmd) => cmd.reply(cmd.argsBytes));
}
