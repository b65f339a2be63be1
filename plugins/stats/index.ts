/**
 * stats: a filter that counts the commands answered in its subtree, per plugin (the node that made
 * the answer: hive.origin, else the first node of hive.path), per user (services account, else
 * nick) and per channel. `stats` shows the top entries; `stats reset` clears them (capability
 * stats.reset). The counts are kept in the node's state folder, written at most once per
 * `save_delay` (a counter is not worth an fsync per command; a crash loses at most that much),
 * and published as the node's Details property.
 */
import { c, hasCapability, ircLower, isChannel, openStore, parseCommand, definePlugin, type PluginManifest } from '../../protocol/sdk/index.js';
import { summary, Tally, top, type Counts } from './tally.js';

export const RESET_CAPABILITY = 'stats.reset';

const Config = c.object({
  /** how many entries of each kind `stats` shows */
  top: c.number().int().min(1).max(20).default(5),
  /** how long a change may wait before it is written */
  save_delay: c.duration().default(1000),
}).strict();
type Config = c.Infer<typeof Config>;

const Count = c.number().int().nonnegative();
const State = c.object({
  version: c.literal(1),
  /** ms since the epoch: when counting (re)started */
  since: c.number(),
  total: Count,
  plugins: c.record(c.string(), Count),
  users: c.record(c.string(), Count),
  channels: c.record(c.string(), Count),
});
type State = c.Infer<typeof State>;

const manifest = {
  name: 'stats',
  kind: 'filter',
  description: 'Counts the commands answered below it, per plugin, user and channel.',
  config: Config,
} satisfies PluginManifest;

/** At most this many entries of each kind in the Details property (the file keeps them all). */
const DETAILS_MAX = 50;

export default definePlugin(manifest, async function stats(hive) {
  const config = hive.config;
  const store = await openStore<State>({
    stateDir: hive.stateDir,
    file: 'stats.json',
    schema: State,
    initial: () => ({ version: 1, since: Date.now(), total: 0, plugins: {}, users: {}, channels: {} }),
    log: hive.log,
  });
  const copy = (s: State): Counts => ({ total: s.total, plugins: { ...s.plugins }, users: { ...s.users }, channels: { ...s.channels } });
  let since = store.data.since;
  const tally = new Tally(copy(store.data));

  let timer: NodeJS.Timeout | undefined;
  let saveFailedLogged = false;
  const save = async () => {
    if (timer) { clearTimeout(timer); timer = undefined; }
    const c = tally.counts;
    const snapshot = { since, total: c.total, plugins: { ...c.plugins }, users: { ...c.users }, channels: { ...c.channels } };
    try {
      await store.update((d) => { Object.assign(d, snapshot); });
      saveFailedLogged = false;
    } catch (err) {
      // A broken file is logged once by the store; say once more that counts are not being kept.
      if (!saveFailedLogged) hive.log.error({ reason: (err as Error).message }, 'stats not saved; counting in memory only');
      saveFailedLogged = true;
    }
  };
  const changed = () => { timer ??= setTimeout(() => void save(), config.save_delay); };

  hive.filter({
    down(msg) {
      const irc = msg.irc;
      const id = msg.meta['hive.id'];
      if (!irc || !msg.network || !id || msg.meta['hive.query']) return;
      const cmd = parseCommand(irc, msg.meta['hive.nick'], hive.commandPrefix);
      if (!cmd) return;
      const account = msg.meta['hive.account'];
      tally.command(id, ircLower(account || cmd.nick), isChannel(cmd.target) ? ircLower(cmd.target) : undefined, Date.now());
    },
    up(msg, child) {
      const replyTo = msg.meta['hive.reply_to'];
      if (!replyTo) return;
      const plugin = msg.meta['hive.origin'] ?? msg.meta['hive.path']?.[0] ?? child.name;
      if (tally.answered(replyTo, plugin)) changed();
    },
  });

  hive.command('stats', {
    help: `stats [reset] — the most used plugins, the most active users and channels; reset clears the counts (needs ${RESET_CAPABILITY})`,
    examples: [
      ['!stats', '15 commands since 2025-01-31 · top plugins: ping 12, echo 3 · top users: alice 9, bob 6 · top channels: #one 15'],
      ['!stats reset', 'stats reset: all counts cleared'],
    ],
  }, async (cmd) => {
    const arg = cmd.args.toLowerCase();
    if (arg === 'reset') {
      if (!hasCapability(cmd.message.meta, RESET_CAPABILITY)) return cmd.reply(`stats reset needs the ${RESET_CAPABILITY} capability`);
      if (store.broken) return cmd.reply('stats reset: the state file is damaged and left untouched; an operator must repair or move it (see the log)');
      since = Date.now();
      tally.counts = { total: 0, plugins: {}, users: {}, channels: {} };
      await save();
      hive.log.info({ by: cmd.nick }, 'stats reset');
      return cmd.reply('stats reset: all counts cleared');
    }
    if (arg !== '') return cmd.reply(`usage: ${hive.commandPrefix}stats shows the counts, ${hive.commandPrefix}stats reset clears them`);
    const text = summary(tally.counts, config.top, since);
    // The stats command counts too (its answer does not pass the up hook); counted now, not after
    // the reply went out, so that a command following the answer at once sees it.
    const id = cmd.message.meta['hive.id'];
    if (id && tally.answered(id, hive.name)) changed();
    await cmd.reply(text);
  });

  const firstN = (r: Record<string, number>) => Object.fromEntries(top(r, DETAILS_MAX));
  hive.details(() => {
    const c = tally.counts;
    return { total: c.total, since: Math.round(since), plugins: firstN(c.plugins), users: firstN(c.users), channels: firstN(c.channels) };
  });

  return async () => { if (timer) await save(); };
});
