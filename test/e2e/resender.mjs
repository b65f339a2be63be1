// A plugin for resent-once.test.ts (plain JS beside it, run from the build) that sends what a node
// whose parent died sends: `!send ID` says "said ID" with the hive.id `resender-ID`; `!resend ID`
// says it again with the same hive.id, marked hive.replayed — as the SDK resends a Send that was
// pending when its parent went (protocol/sdk/parent-link.ts sendUp).
import { runPlugin } from '../../dist/protocol/sdk/run.js';
import { line } from '../../dist/protocol/sdk/index.js';

await runPlugin({ name: 'resender', kind: 'automaton', commands: { send: { help: 'send ID' }, resend: { help: 'resend ID' } } }, (hive) => {
  const say = (cmd, replayed) => hive.send({
    lines: [line(`PRIVMSG ${cmd.replyTo} :said ${cmd.args}`)],
    meta: { 'hive.network': cmd.network, 'hive.id': `resender-${cmd.args}`, ...(replayed ? { 'hive.replayed': true } : {}) },
  });
  hive.command('send', (cmd) => say(cmd, false));
  hive.command('resend', (cmd) => say(cmd, true));
});
