/**
 * alerts (IMMP's subscriptions and mentions): a user subscribes to words; when one is said in a
 * channel the bot is in, the subscriber gets a private message `[#chan] <speaker> text`. A user
 * whose nick is said in a channel they are not in gets the same (they are on the network, in
 * another channel with the bot). Nobody is alerted about their own lines.
 *
 * Delivery needs to know who is where: members.ts follows JOIN/PART/QUIT/KICK/NICK and NAMES from
 * the lines coming down the tree. Only users the bot can see in one of its channels are alerted,
 * so no private message goes to a nick that is not there (the server would answer 401).
 * Subscriptions are kept per network and nick in `subscriptions.json` in the node's state folder.
 */
import { c, createLogLimiter, definePlugin, ircLower, isChannel, line, openStore, parseCommand, privmsg, type Command, type Incoming, type MessageSubscription, type PluginManifest } from '../../protocol/sdk/index.js';
import { Membership } from './members.js';

const configSchema = c.object({
  /**
   * Who gets subscription alerts: `channel` — only subscribers who are in that channel (nobody
   * learns about a channel they are not in); `network` — any subscriber the bot sees in one of
   * its channels on that network.
   */
  scope: c.enum(['channel', 'network']).default('channel'),
  /** Alert users whose nick is said in a channel they are not in. */
  mentions: c.boolean().default(true),
  /** Nicks shorter than this are not looked for (a user called `a` or `ok` would hear everything). */
  mention_min_length: c.number().int().min(1).max(64).default(3),
  max_subscriptions: c.number().int().min(1).max(1000).default(20),
  max_word_length: c.number().int().min(1).max(200).default(50),
  /** Alerts per recipient per minute; more are dropped (and logged). */
  max_alerts_per_minute: c.number().int().min(1).default(10),
  /** The quoted text is cut to this many characters. */
  max_text_length: c.number().int().min(20).max(2000).default(350),
  /** How long to wait for the server while finding out who is where after a (re)start. */
  resync_timeout: c.duration().default(5_000),
}).strict();

const OWN_COMMANDS = new Set(['subscribe', 'unsubscribe', 'subscriptions']);
const MAX_WAITING = 500;

const manifest = {
  name: 'alerts',
  kind: 'responder',
  description: 'private alerts for subscribed words and for mentions of absent users',
  config: configSchema,
} satisfies PluginManifest;

const stateSchema = c.object({
  version: c.literal(1),
  /** network → folded nick → words (lower case). */
  networks: c.record(c.string(), c.record(c.string(), c.array(c.string()))),
});
type State = c.Infer<typeof stateSchema>;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Characters a nick is made of; anything else separates words when looking for mentions. */
const NICK_TOKEN = /[A-Za-z0-9[\]\\`^{}|_-]+/g;

export default definePlugin(manifest, async function alerts(hive) {
  const config = hive.config;
  // Refusals paced by whoever talks in the channels: logged a few times a minute, with how many were left out.
  const logLimit = createLogLimiter();
  const store = await openStore<State>({
    stateDir: hive.stateDir,
    file: 'subscriptions.json',
    schema: stateSchema,
    initial: () => ({ version: 1, networks: {} }),
    log: hive.log,
  });
  const members = new Membership({
    log: hive.log,
    send: (network, lines) => hive.send({ lines: lines.map(line), meta: { 'hive.network': network } }),
    resyncTimeoutMs: config.resync_timeout,
    settled: () => void listen(),
  });

  const wordRes = new Map<string, RegExp>();
  const sent = new Map<string, number[]>();
  const chains = new Map<string, Promise<void>>();
  let waiting = 0;
  const p = hive.commandPrefix;

  // Whole words, case-insensitive, Unicode-aware: 'deploy' is in 'Deploy!' but not in 'redeployed'.
  const wordRe = (w: string): RegExp => {
    let re = wordRes.get(w);
    if (!re) {
      re = new RegExp(`(?<![\\p{L}\\p{N}_])${escapeRegExp(w)}(?![\\p{L}\\p{N}_])`, 'iu');
      if (wordRes.size > 10_000) wordRes.clear();
      wordRes.set(w, re);
    }
    return re;
  };

  const wordsOf = (network: string, nick: string): string[] => store.data.networks[network]?.[ircLower(nick)] ?? [];

  /** The one word in the arguments (lower case), or what is wrong with them. */
  const oneWord = (cmd: Command): { word: string } | { error: string } => {
    const w = cmd.args;
    if (!w) return { error: `usage: ${p}${cmd.name} WORD` };
    if (/\s/.test(w)) return { error: `${cmd.name}: one word at a time, e.g. ${p}${cmd.name} deploy` };
    if (w.length > config.max_word_length) return { error: `${cmd.name}: words are at most ${config.max_word_length} characters` };
    if (!/[\p{L}\p{N}]/u.test(w)) return { error: `${cmd.name}: a word needs at least one letter or digit` };
    return { word: w.toLowerCase() };
  };

  hive.command('subscribe', { help: 'subscribe WORD — get a private message when someone says WORD in a channel with you and the bot', examples: [['!subscribe deploy', "subscribed to 'deploy'"]] }, async (cmd) => {
    const parsed = oneWord(cmd);
    if ('error' in parsed) return cmd.reply(parsed.error);
    const { word } = parsed;
    const key = ircLower(cmd.nick);
    const r = await store.update((d) => {
      const net = (d.networks[cmd.network] ??= {});
      const words = (net[key] ??= []);
      if (words.includes(word)) return 'already';
      if (words.length >= config.max_subscriptions) return 'full';
      words.push(word);
      words.sort();
      return 'ok';
    });
    await listen();
    if (r === 'already') return cmd.reply(`you are already subscribed to '${word}'`);
    if (r === 'full') return cmd.reply(`subscribe: you have ${config.max_subscriptions} subscriptions already; unsubscribe from one first`);
    hive.log.info({ network: cmd.network, nick: cmd.nick, word }, 'subscribed');
    return cmd.reply(`subscribed to '${word}'`);
  });

  hive.command('unsubscribe', { help: 'unsubscribe WORD — stop the alerts for WORD', examples: [['!unsubscribe deploy', "unsubscribed from 'deploy'"]] }, async (cmd) => {
    const parsed = oneWord(cmd);
    if ('error' in parsed) return cmd.reply(parsed.error);
    const { word } = parsed;
    const key = ircLower(cmd.nick);
    if (!wordsOf(cmd.network, cmd.nick).includes(word)) return cmd.reply(`you are not subscribed to '${word}'`);
    await store.update((d) => {
      const net = d.networks[cmd.network];
      const words = net?.[key];
      if (!net || !words) return;
      net[key] = words.filter((w) => w !== word);
      if (net[key]!.length === 0) delete net[key];
    });
    await listen();
    hive.log.info({ network: cmd.network, nick: cmd.nick, word }, 'unsubscribed');
    return cmd.reply(`unsubscribed from '${word}'`);
  });

  hive.command('subscriptions', { help: 'subscriptions — lists your subscribed words', examples: [['!subscriptions', 'your subscriptions: deploy']] }, (cmd) => {
    const words = wordsOf(cmd.network, cmd.nick);
    return cmd.reply(words.length ? `your subscriptions: ${words.join(', ')}` : `you have no subscriptions; ${p}subscribe WORD adds one`);
  });

  /** Whether `who` may get one more alert now (a cap per recipient and minute). */
  const allowed = (network: string, who: string): boolean => {
    const key = `${network}\0${who}`;
    const now = Date.now();
    const times = (sent.get(key) ?? []).filter((t) => t > now - 60_000);
    if (times.length >= config.max_alerts_per_minute) { sent.set(key, times); return false; }
    times.push(now);
    sent.set(key, times);
    if (sent.size > 10_000) for (const [k, v] of sent) if (v.every((t) => t <= now - 60_000)) sent.delete(k);
    return true;
  };

  const evaluate = async (msg: Incoming) => {
    const irc = msg.irc!;
    const network = msg.network!;
    const channel = irc.params[0]!;
    const speaker = ircLower(irc.nick);
    const own = msg.meta['hive.nick'] ? ircLower(msg.meta['hive.nick']) : undefined;
    let text = irc.params[irc.params.length - 1] ?? '';
    let action = false;
    if (text.startsWith('\x01')) {
      const m = /^\x01ACTION ([\s\S]*?)\x01?$/.exec(text);
      if (!m) return; // other CTCP is not talk
      text = m[1]!;
      action = true;
    }
    const here = members.members(network, channel);
    const recipients = new Map<string, string>(); // folded → nick as seen
    const consider = (folded: string, why: string) => {
      if (folded === speaker || folded === own || recipients.has(folded)) return;
      const shown = members.seen(network, folded);
      if (!shown) return; // not on the network as far as the bot can see: a PM would only bounce
      recipients.set(folded, shown);
      hive.log.debug({ network, channel, to: shown, why }, 'alert');
    };

    for (const [who, words] of Object.entries(store.data.networks[network] ?? {})) {
      if (config.scope === 'channel' && !here?.has(who)) continue;
      if (words.some((w) => wordRe(w).test(text))) consider(who, 'subscription');
    }
    // Mentions need to know who is in this channel; without that, nobody is known to be absent.
    if (config.mentions && here) {
      for (const token of text.match(NICK_TOKEN) ?? []) {
        if (token.length < config.mention_min_length) continue;
        const folded = ircLower(token);
        if (!here.has(folded)) consider(folded, 'mention');
      }
    }
    if (recipients.size === 0) return;
    const quoted = text.length > config.max_text_length ? `${text.slice(0, config.max_text_length)}…` : text;
    const body = action ? `[${channel}] * ${irc.nick} ${quoted}` : `[${channel}] <${irc.nick}> ${quoted}`;
    const lines: string[] = [];
    for (const [folded, nick] of recipients) {
      if (allowed(network, folded)) lines.push(privmsg(nick, body));
      else {
        hive.count('dropped');
        const suppressed = logLimit.take(`cap:${network}`);
        if (suppressed !== undefined) hive.log.warn({ network, to: nick, suppressed }, 'alert cap per minute reached for this user; alert dropped');
      }
    }
    // One message for all recipients: it answers one line, which the mouth sends only once even
    // when this line is replayed to a restarted plugin.
    if (lines.length) await hive.replyWith(msg, lines);
  };

  // What the alerts need: talk, and what keeps the member lists (members.ts) and the connection's events.
  const MEMBERSHIP_ROUTES = ['JOIN', 'PART', 'KICK', 'QUIT', 'NICK', '005', '353', '366', '318', '319', 'event.*'];
  hive.onMessage((msg) => {
    members.observe(msg);
    if (msg.irc?.command !== 'PRIVMSG') void listen();
  }, { routes: MEMBERSHIP_ROUTES });
  const talk: MessageSubscription = hive.onMessage((msg) => {
    // A PRIVMSG starts a resync of a network not known yet (members.ts) as any line does.
    members.observe(msg);
    const irc = msg.irc;
    const network = msg.network;
    // A room's history replayed on (re)join alerted when it was said, not again.
    if (!irc || irc.command !== 'PRIVMSG' || !network || msg.meta['hive.query'] || msg.meta['hive.event'] !== 'line' || msg.meta['hive.history'] === true) return;
    if (!isChannel(irc.params[0] ?? '') || irc.params.length < 2) return;
    const cmd = parseCommand(irc, msg.meta['hive.nick'], hive.commandPrefix);
    if (cmd && OWN_COMMANDS.has(cmd.name)) return; // `!subscribe deploy` is not someone saying deploy
    if (waiting >= MAX_WAITING) {
      hive.count('dropped');
      const suppressed = logLimit.take(`waiting:${network}`);
      if (suppressed !== undefined) hive.log.warn({ network, suppressed }, 'too many lines waiting for alerts; line skipped');
      return;
    }
    // In order per network, and only once the picture of who is where is complete.
    waiting++;
    const next = (chains.get(network) ?? Promise.resolve())
      .then(() => members.whenReady(network))
      .then(() => evaluate(msg))
      .catch((err: unknown) => { hive.count('errors'); hive.log.error({ err }, 'alerting failed'); })
      .finally(() => { waiting--; });
    chains.set(network, next);
  }, { routes: [] });
  // Talk is taken only while an alert can come of it: someone subscribed to a word, or mentions
  // on where the bot is in two channels of a network. Otherwise the bus sends this process the
  // membership lines and its commands alone (docs/protocol.md#routes).
  function listen(): Promise<void> {
    const subscribed = Object.values(store.data.networks).some((net) => Object.keys(net).length > 0);
    return talk.setRoutes(subscribed || (config.mentions && members.mayMention()) ? ['PRIVMSG.*'] : []);
  }
  await listen();

  return () => members.close();
});
