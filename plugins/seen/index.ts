/**
 * seen: remembers, per network and nick, the last line (PRIVMSG or ACTION) each nick said where
 * the bot could hear it, and answers `seen NICK` with when, where and what.
 *
 * Writing the whole state on every line of a busy channel would cost a file write (and fsync)
 * per line, so changes are kept in memory and written at most every `flush_ms` (default 1 s), and
 * on an orderly stop. A kill -9 loses the lines heard since the last write; the replay of the
 * node's last messages on restart brings most of them back (see docs/protocol.md#replay).
 */
import { c, ircLower, isChannel, openStore, type Incoming, definePlugin, type Store, type PluginManifest } from '../../protocol/sdk/index.js';

const Config = c.object({
  /** How many (network, nick) entries to keep; the one silent the longest goes first. */
  max_nicks: c.number().int().min(1).max(1_000_000).default(10_000),
  /** How long a change may stay in memory only before it is written. */
  flush_ms: c.number().int().min(0).max(60_000).default(1000),
  /** Longest text kept per entry, in characters; the rest is cut with "…". */
  max_text: c.number().int().min(1).max(2000).default(300),
}).strict();
type Config = c.Infer<typeof Config>;

const manifest = {
  name: 'seen',
  kind: 'responder',
  description: 'When a nick last spoke, where, and what.',
  config: Config,
} satisfies PluginManifest;

const Entry = c.object({
  network: c.string(),
  nick: c.string(),
  /** The channel; null for a private message to the bot (whose text is never kept). */
  target: c.string().nullable(),
  text: c.string().optional(),
  action: c.boolean().optional(),
  time: c.number(),
});
type Entry = c.Infer<typeof Entry>;

const State = c.object({ version: c.literal(1), seen: c.array(Entry) });
type State = c.Infer<typeof State>;

export function ago(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 5) return 'just now';
  if (s < 60) return `${s}s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ago`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h}h ${m % 60}m ago` : `${h}h ago`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d}d ${h % 24}h ago` : `${d}d ago`;
}

function cut(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : chars.slice(0, max - 1).join('') + '…';
}

const key = (network: string, nick: string) => `${network} ${ircLower(nick)}`;

export default definePlugin(manifest, async function seen(hive) {
  const config = hive.config;
  const store: Store<State> = await openStore({ stateDir: hive.stateDir, file: 'seen.json', schema: State, initial: () => ({ version: 1, seen: [] }), log: hive.log });

  // In memory, insertion order is recency: the first entry is the one silent the longest.
  const entries = new Map<string, Entry>();
  const networks = new Set<string>();
  const remember = (e: Entry) => {
    const k = key(e.network, e.nick);
    const old = entries.get(k);
    // A replayed line can be older than what we already know.
    if (old && old.time > e.time) return false;
    entries.delete(k);
    entries.set(k, e);
    networks.add(e.network);
    while (entries.size > config.max_nicks) entries.delete(entries.keys().next().value!);
    return true;
  };
  for (const e of [...store.data.seen].sort((a, b) => a.time - b.time)) remember(e);

  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> = Promise.resolve();
  let brokenLogged = false;
  const flush = async () => {
    timer = undefined;
    if (store.broken) {
      // openStore has said why; say once more that seen runs from memory only.
      if (!brokenLogged) hive.log.error({ file: store.file }, 'seen state file unusable: remembering in memory only, nothing is saved');
      brokenLogged = true;
      return;
    }
    const snapshot = [...entries.values()];
    try {
      await store.update((d) => { d.seen = snapshot; });
    } catch (err) {
      hive.log.error({ err, file: store.file }, 'could not save seen state');
    }
  };
  const changed = () => {
    // At most one write per flush_ms, however busy the channels (a debounce alone would never write during constant talk).
    timer ??= setTimeout(() => { writing = flush(); }, config.flush_ms);
  };

  hive.onMessage((msg: Incoming) => {
    const irc = msg.irc;
    if (!irc || irc.command !== 'PRIVMSG' || irc.params.length < 2 || !irc.nick || !msg.network) return;
    // Aggregator queries are made up, not said by anyone.
    if (msg.meta['hive.query']) return;
    const own = msg.meta['hive.nick'];
    if (own && ircLower(own) === ircLower(irc.nick)) return;
    const target = irc.params[0]!;
    let text = irc.params[irc.params.length - 1]!;
    let action = false;
    if (text.startsWith('\x01')) {
      const m = /^\x01ACTION(?: ([^\x01]*))?\x01?$/.exec(text);
      if (!m) return; // other CTCP (VERSION, PING…) is not talk
      action = true;
      text = m[1] ?? '';
    }
    const channel = isChannel(target);
    const e: Entry = { network: msg.network, nick: irc.nick, target: channel ? target : null, time: msg.meta['hive.time'] ?? Date.now() };
    // A private message's text is the speaker's business only: it is never kept.
    if (channel) {
      e.text = cut(text, config.max_text);
      if (action) e.action = true;
    }
    if (remember(e)) changed();
    // Only PRIVMSG is talk (commands too): the bus sends this process nothing else (docs/protocol.md#routes).
  }, { routes: ['PRIVMSG.*'] });

  hive.command('seen', { help: 'seen NICK — when NICK last spoke, where, and what', examples: [['!seen alice', 'alice was last seen 3m ago in #one saying: hello']] }, (cmd) => {
    const p = hive.commandPrefix;
    const who = cmd.args.replace(/[?!.]+$/, '').trim();
    if (!who || /\s/.test(who) || isChannel(who) || who.length > 64) return cmd.reply(`usage: ${p}seen NICK`);
    const fold = ircLower(who);
    if (fold === ircLower(cmd.nick)) return cmd.reply(`${cmd.nick}, that's you!`);
    const own = cmd.message.meta['hive.nick'];
    if (own && fold === ircLower(own)) return cmd.reply("I'm right here!");
    let best: Entry | undefined;
    for (const net of networks) {
      const e = entries.get(key(net, who));
      if (e && (!best || e.time > best.time)) best = e;
    }
    if (!best) return cmd.reply(`I haven't seen ${who}.`);
    const where = (best.target === null ? 'in a private message' : `in ${best.target}`) + (best.network !== cmd.network ? ` on ${best.network}` : '');
    const what = best.target === null ? '' : best.action ? `: * ${best.nick} ${best.text ?? ''}` : ` saying: ${best.text ?? ''}`;
    return cmd.reply(`${best.nick} was last seen ${ago(Date.now() - best.time)} ${where}${what}`);
  });

  // On an orderly stop: finish a write under way, then write what is left.
  return async () => {
    await writing;
    if (timer) {
      clearTimeout(timer);
      await flush();
    }
  };
});
