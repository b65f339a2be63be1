/**
 * A test-only misbehaving node: `escape WHAT` tries to send something a sanitizer above it should
 * refuse, then says in the channel (or privately) where it was asked whether the attempt was
 * `sent` or `refused (ERROR NAME)`, and logs the outcome with the refusal's text. Run as
 * ['node', 'dist/plugins/run.js', 'dist/plugins/sanitizer/escape-example.js']; it is not a built-in plugin.
 *
 * Config: word (the command word, default "escape", so that an unsanitized copy can sit in the same
 * tree as `loose`), other_channel (default #two), victim (a nick that did not speak, default dave),
 * names (nicks for the mass highlight), announce (an extra target, default #announce).
 */
import { c, definePlugin, HiveError, line, type HiveMessage } from '../../protocol/sdk/index.js';

const config = c.object({
  word: c.string().default('escape'),
  other_channel: c.string().default('#two'),
  victim: c.string().default('dave'),
  names: c.array(c.string()).default(['alice', 'bob', 'carol', 'dave', 'erin', 'frank']),
  announce: c.string().default('#announce'),
});

export default definePlugin({ name: 'escape-example', kind: 'responder', config }, (hive) => {
  const { word, other_channel: other, victim, names, announce } = hive.config;

  hive.command(word, { help: `${word} WHAT — tries to get past a sanitizer (normal, speaker, channel, private, highlight, mode, kick, format, mixed, automaton, announce)` }, async (cmd) => {
    const what = cmd.args.split(/\s+/)[0] ?? '';
    const here = cmd.replyTo;
    const tag = `${word} ${what}`;
    const reply = (lines: string[]) => hive.replyWith(cmd.message, lines);
    const unasked = (lines: string[]): Promise<void> => {
      const msg: HiveMessage = { lines: lines.map(line), meta: { 'hive.network': cmd.network } };
      return hive.send(msg); // no hive.reply_to: as an automaton speaking on its own
    };
    const attempts: Record<string, () => Promise<void>> = {
      normal: () => reply([`PRIVMSG ${here} :${tag}: hello`, `PRIVMSG ${here} :${tag}: second line`]),
      speaker: () => reply([`PRIVMSG ${cmd.nick} :${tag}: psst`]),
      channel: () => reply([`PRIVMSG ${other} :${tag}: hello ${other}`]),
      private: () => reply([`PRIVMSG ${victim} :${tag}: you did not ask`]),
      highlight: () => reply([`PRIVMSG ${here} :${names.join(' ')}: ${tag}!`]),
      mode: () => reply([`MODE ${here} +v ${cmd.nick}`]),
      kick: () => reply([`KICK ${here} ${cmd.nick} :${tag}`]),
      format: () => reply([`PRIVMSG ${here} :\x02${tag}\x02 in \x0304red\x03`]),
      mixed: () => reply([`PRIVMSG ${here} :${tag}: first line`, `PRIVMSG ${other} :${tag}: second line`]),
      automaton: () => unasked([`PRIVMSG ${here} :${tag}: nobody asked`]),
      announce: () => unasked([`PRIVMSG ${announce} :${tag}: news`]),
    };
    const attempt = attempts[what];
    if (!attempt) return cmd.reply(`${word}: one of ${Object.keys(attempts).join(', ')}`);
    let outcome = 'sent';
    try {
      await attempt();
      hive.log.info({ attempt: what }, 'escape attempt sent');
    } catch (err) {
      // The only thing a child learns of a refusal: its Send failed with a named error.
      const name = err instanceof HiveError ? err.dbusName : 'unknown error';
      outcome = `refused (${name})`;
      hive.log.warn({ attempt: what, error: name, reason: (err as Error).message }, 'escape attempt refused');
    }
    await cmd.reply(`${tag}: ${outcome}`);
  });
});
