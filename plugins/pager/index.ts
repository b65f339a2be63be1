/**
 * pager: a filter that cuts long replies. A reply of more than `lines` PRIVMSG/NOTICE lines coming
 * up from the subtree goes on with its first `lines` lines and a hint; the rest is kept per
 * network, target and the user who asked, and `more` sends the next part. Kept parts expire.
 *
 * Who asked is the speaker of the message the reply answers (hive.reply_to): the pager remembers
 * hive.id → speaker for the messages it passes down. Pages live in memory only.
 */
import { c, definePlugin, line, parseLine, Recent, type IrcLine, type Meta, type PluginManifest } from '../../protocol/sdk/index.js';
import { hintText, pageKey, pagedTarget, splitPage } from './pages.js';

const Config = c.object({
  /** Lines per page. */
  lines: c.number().int().min(1).max(100).default(4),
  /** How long a kept rest waits for `more` (from the last page sent). */
  expire: c.duration().default(300_000),
}).strict();

const manifest = {
  name: 'pager',
  kind: 'filter',
  description: 'cuts replies longer than N lines into pages; more sends the next one',
  config: Config,
} satisfies PluginManifest;

/** How many speakers and query ids are remembered, and for how long: replies come within seconds. */
const SPEAKERS_MAX = 5000;
const SPEAKERS_TTL_MS = 10 * 60_000;
/** A bound on the pages kept at once, whatever `expire` is. */
const PAGES_MAX = 1000;

interface Kept {
  /** Raw lines still to send, as the child made them. */
  lines: Buffer[];
  /** PRIVMSG or NOTICE, for the hint line, and where it goes. */
  command: string;
  target: string;
  origin: string | undefined;
}

export default definePlugin(manifest, function pager(hive) {
  const config = hive.config;
  const perPage = config.lines;
  const speakers = new Recent<string, string>(SPEAKERS_MAX, SPEAKERS_TTL_MS);
  // Answers to an aggregator's query are for the aggregator, not for people: never cut them.
  const queries = new Recent<string, true>(SPEAKERS_MAX, SPEAKERS_TTL_MS);
  const pages = new Recent<string, Kept>(PAGES_MAX, config.expire);
  let paged = 0;
  let served = 0;
  let expiredAsked = 0;

  const hint = (command: string, target: string, more: number) => line(`${command} ${target} :${hintText(more, hive.commandPrefix)}`);

  hive.filter({
    down(msg) {
      const id = msg.meta['hive.id'];
      if (!id) return;
      if (msg.meta['hive.query']) { queries.set(id, true, Date.now()); return; }
      if (msg.irc?.command === 'PRIVMSG' && msg.irc.nick) speakers.set(id, msg.irc.nick, Date.now());
    },
    up(msg) {
      const network = msg.network;
      const replyTo = msg.meta['hive.reply_to'];
      const now = Date.now();
      if (!network || msg.lines.length <= perPage) return;
      if (replyTo && queries.get(replyTo, now)) return;
      const parsed = msg.lines.map((l) => parseLine(l));
      if (parsed.some((p) => p === undefined)) return;
      const irc = parsed as IrcLine[];
      const target = pagedTarget(irc);
      if (target === undefined) return;
      const user = replyTo ? speakers.get(replyTo, now) : undefined;
      const { first, rest } = splitPage(msg.lines, perPage);
      const command = irc[perPage - 1]!.command;
      // A newer long reply for the same user and target replaces what was kept before.
      pages.set(pageKey(network, target, user), { lines: rest, command, target, origin: msg.meta['hive.origin'] }, now);
      paged++;
      hive.log.debug({ network, target, user, sent: first.length, kept: rest.length }, 'reply paged');
      return { lines: [...first, hint(command, target, rest.length)], meta: msg.meta };
    },
  });

  hive.command('more', { help: 'more — the next part of a long answer that was cut short here', examples: [['!more', 'the next 4 lines, then (+2 more lines: say !more)']] }, async (cmd) => {
    if (cmd.message.meta['hive.query']) return;
    const now = Date.now();
    // The user's own page first; a page nobody asked for (an automaton's) is anyone's there.
    let key = pageKey(cmd.network, cmd.replyTo, cmd.nick);
    let kept = pages.get(key, now);
    if (!kept) {
      key = pageKey(cmd.network, cmd.replyTo, undefined);
      kept = pages.get(key, now);
    }
    if (!kept) {
      expiredAsked++;
      return cmd.reply('nothing more');
    }
    const { first, rest } = splitPage(kept.lines, perPage);
    const lines = [...first];
    if (rest.length > 0) {
      lines.push(hint(kept.command, kept.target, rest.length));
      pages.set(key, { ...kept, lines: rest }, now);
    } else {
      pages.delete(key);
    }
    const meta: Meta = { 'hive.network': cmd.network };
    const id = cmd.message.meta['hive.id'];
    if (id) meta['hive.reply_to'] = id;
    if (cmd.message.meta['hive.replayed']) meta['hive.replayed'] = true;
    if (kept.origin) meta['hive.origin'] = kept.origin;
    served++;
    await hive.send({ lines, meta });
  });

  hive.details(() => ({ kept: pages.size, paged, pages_served: served, nothing_more: expiredAsked }));

  // Expired entries are dropped when read; the sweep bounds memory when nobody reads them.
  const sweeper = setInterval(() => {
    const now = Date.now();
    pages.sweep(now);
    speakers.sweep(now);
    queries.sweep(now);
  }, 60_000);
  sweeper.unref();
  return () => clearInterval(sweeper);
});
