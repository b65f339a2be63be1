/**
 * compose: an aggregator. `compose reverse rot13 hello` asks its subtree `rot13 hello`, then
 * `reverse <that>`, and answers the last answer. Nested commands: any command passing down
 * whose text has brackets, `echo [upper [reverse abc]]`, is answered by asking the subtree the
 * inner-most command first and putting each answer in place of its brackets.
 *
 * The children are ordinary responders that do not know they are composed, so they must not see
 * such a message themselves (echo would say `[reverse hello]` literally): compose acts like a
 * filter on the way down and drops the messages it takes over (`compose …`, and bracketed
 * commands whose first word is a command of its subtree); everything else passes unchanged.
 * Queries go down as the SDK's hive.ask (docs/protocol.md#aggregators).
 */
import { c, definePlugin, parseCommand, privmsg, type Incoming, type ParsedCommand, type PluginManifest } from '../../protocol/sdk/index.js';
import { countGroups, hasBrackets, innerWords, parseBrackets, substitute, type Group } from './brackets.js';
import { SubtreeCommands } from './commands.js';
import { seconds, splitStages } from './stages.js';

const config = c.object({
  /** Seconds to wait for each answer from the subtree. */
  timeout: c.number().positive().max(60).default(3),
  /** The most commands one request may ask the subtree (compose stages plus bracketed commands). */
  max_steps: c.number().int().min(1).max(50).default(10),
}).strict();
const manifest = {
  name: 'compose',
  kind: 'aggregator',
  description: 'Composes the commands of the plugins under it; also answers nested [commands] in any of their commands.',
  config,
} satisfies PluginManifest;

/** A failure to tell the user, as `compose: <message>`. */
class ComposeError extends Error {}

/** Leading word of a command text, past opening brackets: `[reverse x] y` → reverse. */
const FIRST_WORD = /^[\s[]*([^\s[\]\\]+)/;
const CHECK_CHILDREN_MS = 500;
/** Grandchildren behind a filter child change without our children changing: read again now and then. */
const REREAD_MS = 30_000;

export default definePlugin(manifest, function compose(hive) {
  const c = hive.config;
  const commands = new SubtreeCommands(hive);
  const usage = `${hive.commandPrefix}compose CMD [CMD...] TEXT`;
  const stats = { requests: 0, asked: 0, timeouts: 0, errors: 0 };
  hive.details(() => ({ ...stats, subtree_commands: commands.size }));

  let lastCommands = '';
  const reread = () => commands.refresh().then(() => {
    const now = commands.list().join(' ');
    if (now !== lastCommands) hive.log.info({ commands: commands.list() }, 'subtree commands');
    lastCommands = now;
  }).catch((err) => hive.log.warn({ err }, 'reading the subtree commands failed'));
  let lastReread = 0;
  const timer = setInterval(() => {
    if (commands.changed() || Date.now() - lastReread > REREAD_MS) { lastReread = Date.now(); void reread(); }
  }, CHECK_CHILDREN_MS);

  /** What the query text starts with so that a child takes it for a command. */
  const address = (msg: Incoming, parsed: ParsedCommand): string => {
    // With an empty command prefix, a line in a channel is a command only when addressed to the
    // bot; hive.ask puts the (empty) prefix in front, so address it here.
    if (hive.commandPrefix || parsed.isPrivate) return '';
    const nick = msg.meta['hive.nick'];
    return typeof nick === 'string' && nick ? `${nick}: ` : '';
  };

  /** One request's budget and its way of asking the subtree. */
  const asker = (msg: Incoming, parsed: ParsedCommand) => {
    let used = 0;
    const known = async (word: string) => {
      if (commands.has(word)) return true;
      await commands.afterMiss();
      return commands.has(word);
    };
    const lines = async (text: string): Promise<string[]> => {
      const word = /^\S+/.exec(text)?.[0].toLowerCase();
      if (!word) throw new ComposeError('an empty command: put a command inside the brackets');
      if (!(await known(word))) throw new ComposeError(`no plugin here answers '${word}'`);
      if (++used > c.max_steps) throw new ComposeError(`too many commands in one request (at most ${c.max_steps})`);
      stats.asked++;
      const answers = await hive.ask(msg, address(msg, parsed) + text, { timeoutMs: c.timeout * 1000, max: 1 });
      const answer = answers[0];
      if (!answer) { stats.timeouts++; throw new ComposeError(`'${word}' did not answer within ${seconds(c.timeout)}`); }
      if (!answer.texts.length) throw new ComposeError(`'${word}' answered with no text`);
      return answer.texts;
    };
    return { lines, text: async (t: string) => (await lines(t)).join(' '), known, get used() { return used; } };
  };

  /** Checks a parsed text before anything is asked: size and the command words written out. */
  const precheck = async (top: Group, ask: ReturnType<typeof asker>, extra: number) => {
    const n = countGroups(top) + extra;
    if (n > c.max_steps) throw new ComposeError(`too many commands in one request (${n}, at most ${c.max_steps})`);
    for (const w of innerWords(top)) if (!(await ask.known(w))) throw new ComposeError(`no plugin here answers '${w}'`);
  };

  const parse = (text: string): Group => {
    const p = parseBrackets(text);
    if (!p.ok) throw new ComposeError(p.error);
    return p.top;
  };

  const nested = async (msg: Incoming, parsed: ParsedCommand, text: string): Promise<string[]> => {
    const top = parse(text);
    const ask = asker(msg, parsed);
    await precheck(top, ask, 1);
    const outer = (await substitute(top, ask.text)).trim();
    return ask.lines(outer);
  };

  const composed = async (msg: Incoming, parsed: ParsedCommand): Promise<string[]> => {
    const ask = asker(msg, parsed);
    let args = parsed.args;
    if (hasBrackets(args)) {
      const top = parse(args);
      await precheck(top, ask, 1);
      args = await substitute(top, ask.text);
    }
    let split = splitStages(args, (w) => commands.has(w), usage);
    if (!split.ok && split.error.startsWith('no plugin')) {
      await commands.afterMiss();
      split = splitStages(args, (w) => commands.has(w), usage);
    }
    if (!split.ok) throw new ComposeError(split.error);
    const total = ask.used + split.stages.length;
    if (total > c.max_steps) throw new ComposeError(`too many commands in one request (${total}, at most ${c.max_steps})`);
    let text = split.text;
    let out: string[] = [];
    for (const stage of [...split.stages].reverse()) {
      out = await ask.lines(`${stage} ${text}`);
      text = out.join(' ');
    }
    return out;
  };

  const run = (msg: Incoming, parsed: ParsedCommand, work: () => Promise<string[]>) => {
    stats.requests++;
    hive.log.debug({ command: parsed.name, irc: { nick: parsed.nick } }, 'compose request');
    Promise.resolve()
      .then(() => commands.current())
      .then(work)
      .catch((err: unknown) => {
        stats.errors++;
        if (err instanceof ComposeError) return [`compose: ${err.message}`];
        hive.log.error({ err }, 'compose failed');
        return ['compose: failed (internal error, see the log)'];
      })
      .then((lines) => hive.replyWith(msg, lines.map((t) => privmsg(parsed.replyTo, t))))
      .catch((err: unknown) => hive.log.warn({ err }, 'compose reply failed'));
  };

  // Answered in the filter below (compose must take the message before its children see it).
  hive.command('compose', {
    help: 'compose CMD [CMD...] TEXT — CMD(…(CMD(TEXT))) with the commands of the plugins under compose; [CMD ARGS] nests a command in any of theirs',
    examples: [['!compose reverse rot13 hello', 'byyru'], ['!echo [upper [reverse abc]]', 'CBA']],
  });

  hive.filter({
    // Synchronous on purpose: the SDK passes messages down in the order their hooks settle, and a
    // child drops a message whose sequence number is below one it has seen.
    down: (msg) => {
      if (!msg.irc || msg.irc.command !== 'PRIVMSG' || !msg.network) return;
      const parsed = parseCommand(msg.irc, msg.meta['hive.nick'], hive.commandPrefix);
      if (!parsed) return;
      if (parsed.name === 'compose') {
        run(msg, parsed, () => composed(msg, parsed));
        return null;
      }
      const text = parsed.args ? `${parsed.name} ${parsed.args}` : parsed.name;
      if (!hasBrackets(text)) return;
      const word = FIRST_WORD.exec(text)?.[1];
      // A command none of our subtree knows may be for a plugin elsewhere in the tree: not ours.
      if (!word || !commands.has(word)) return;
      run(msg, parsed, () => nested(msg, parsed, text));
      return null;
    },
  });

  void reread();
  return () => clearInterval(timer);
});
