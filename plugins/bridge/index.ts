/**
 * bridge: relays talk between the channels of a group across networks, like IMMP's sync hook.
 * `<nick> text` for messages, `* nick text` for actions, optionally joins, parts, quits and nick
 * changes. The bot's own lines are never relayed (compared with hive.nick, the bot's nick on that
 * network), so two bridged channels on one network cannot feed each other. Long relays are left to
 * the mouth, which splits a long PRIVMSG into lines that fit.
 */
import { ChannelMembers, definePlugin, ircLower, type HiveMessage, type Incoming, type Manifest, type Meta } from '../../protocol/sdk/index.js';
import { buildRoutes, configSchema, endpointKey, type Endpoint } from './config.js';
import { classifyText, eventText, speechHead, trailingBytes, type NickStyle, type RelayEvent, type SpeechKind } from './format.js';
import { RecentRelays } from './echo.js';

const manifest = {
  name: 'bridge',
  kind: 'automaton',
  description: 'Relays messages (and optionally joins, parts, quits and nick changes) between the channels of a group across networks.',
  config: configSchema,
} satisfies Manifest;

/** How long a relay is remembered to recognise it if it comes back through another of our connections. */
const ECHO_MEMORY_MS = 30_000;

export default definePlugin(manifest, function bridge(hive) {
  const cfg = hive.config;
  const routes = buildRoutes(cfg.groups);
  const plain = new Set(cfg.plain);
  const ignored = new Set(cfg.ignore.map(ircLower));
  // QUIT and NICK name no channel: to relay them, the bridge must know where the user was.
  const members = new ChannelMembers();
  /** The bot's current nick on each network, from the hive.nick of what that network sends. */
  const ownNicks = new Map<string, string>();
  const recent = new RecentRelays(ECHO_MEMORY_MS);
  // Shown from the start in the Counters property, as 0.
  hive.count('relayed', 0);
  hive.count('relay_failed', 0);
  const log = hive.log;

  const keyOf = (e: Endpoint) => endpointKey(e.network, e.channel);
  const styleFor = (network: string): NickStyle => ({ colour: cfg.colours && !plain.has(network), noHighlight: cfg.no_highlight });
  const endpointsOn = (network: string) => routes.all.filter((e) => e.network === network);

  /**
   * A line from the bot's own nick on ANOTHER network carrying (part of) something relayed to that
   * network lately is one of our relays coming back: two hive networks on one server, both bridged.
   */
  const isOurEcho = (network: string, nick: string, text: string): boolean => {
    const n = ircLower(nick);
    const now = Date.now();
    for (const [other, own] of ownNicks) {
      if (other !== network && ircLower(own) === n && recent.has(other, text, now)) return true;
    }
    return false;
  };

  /** Sends each network its lines; a failing network is logged and counted and the others still get theirs. */
  const deliver = async (lines: Map<string, { to: Endpoint; line: Buffer }[]>) => {
    await Promise.all([...lines].map(async ([network, items]) => {
      // No hive.reply_to: a relay is not an answer, and the mouth's replay check keys replies by
      // (origin, reply_to), which would drop the relay to a second network as a duplicate.
      const msg: HiveMessage = { lines: items.map((i) => i.line), meta: { 'hive.network': network } satisfies Meta };
      // Remembered before sending: the line can come back from the server before Send returns.
      const now = Date.now();
      for (const i of items) recent.remember(network, i.line.toString('utf8'), now);
      try {
        await hive.send(msg);
        hive.count('relayed', items.length);
      } catch (err) {
        hive.count('relay_failed');
        log.error({ err, network, channels: items.map((i) => i.to.channel) }, 'relay failed');
      }
    }));
  };

  const relay = (targets: Endpoint[], build: (to: Endpoint) => Buffer) => {
    const byNetwork = new Map<string, { to: Endpoint; line: Buffer }[]>();
    for (const to of targets) {
      let list = byNetwork.get(to.network);
      if (!list) { list = []; byNetwork.set(to.network, list); }
      list.push({ to, line: build(to) });
    }
    return deliver(byNetwork);
  };

  /** Relays an event seen in `sources` (every channel the user was in) to the rest of their groups, once each. */
  const relayEvent = (sources: Endpoint[], e: RelayEvent) => {
    const seen = new Set(sources.map(keyOf));
    const targets: Endpoint[] = [];
    for (const s of sources) {
      for (const t of routes.others(s)) {
        if (seen.has(keyOf(t))) continue;
        seen.add(keyOf(t));
        targets.push(t);
      }
    }
    if (targets.length === 0) return Promise.resolve();
    return relay(targets, (to) => Buffer.from(`PRIVMSG ${to.channel} :${eventText(e, styleFor(to.network))}`, 'utf8'));
  };

  const speech = (msg: Incoming, network: string, nick: string) => {
    const irc = msg.irc!;
    const from = routes.find(network, irc.params[0] ?? '');
    if (!from) return; // private messages, unbridged channels, @#channel (ops only)
    if (irc.command === 'NOTICE' && !cfg.notices) return;
    const text = trailingBytes(msg.lines[0]!);
    if (!text || text.length === 0) return;
    const c = classifyText(text);
    if (c.kind === 'ctcp') return; // VERSION, PING, …: meant for clients, not people
    if (isOurEcho(network, nick, text.toString('utf8'))) {
      log.debug({ network, channel: from.channel }, 'own relay seen again; not relayed');
      return;
    }
    const kind: SpeechKind = irc.command === 'NOTICE' ? 'notice' : c.kind === 'action' ? 'action' : 'message';
    const command = kind === 'notice' ? 'NOTICE' : 'PRIVMSG';
    return relay(routes.others(from), (to) => {
      let head = speechHead(kind, nick, styleFor(to.network));
      if (c.body.length === 0) head = head.trimEnd();
      // The speaker's bytes go on untouched: text that is not UTF-8 stays as it was.
      return Buffer.concat([Buffer.from(`${command} ${to.channel} :${head}`, 'utf8'), c.body]);
    });
  };

  const handle = (msg: Incoming): unknown => {
    const network = msg.network;
    if (!network) return;
    const own = msg.meta['hive.nick'];
    if (own) ownNicks.set(network, own);
    if (msg.meta['hive.query']) return; // an aggregator's synthetic question, not talk
    const event = msg.meta['hive.event'];
    if (event === 'disconnected') {
      members.reset(network);
      return;
    }
    if (event !== undefined && event !== 'line') return;
    const irc = msg.irc;
    if (!irc) return;
    const nick = irc.nick;
    const isSelf = (n: string | undefined) => n !== undefined && own !== undefined && ircLower(n) === ircLower(own);
    // A line from the server itself (its notices, numerics) has no nick: the parser puts the server name in hostname.
    const fromServer = nick === '';
    const skip = fromServer || isSelf(nick) || ignored.has(ircLower(nick));
    // Where a quitting or renamed user was, before the line is learnt.
    const wasIn = irc.command === 'QUIT' || irc.command === 'NICK' ? endpointsOn(network).filter((e) => members.has(network, e.channel, nick)) : [];
    members.see(network, irc, own);

    switch (irc.command) {
      case 'PRIVMSG':
      case 'NOTICE':
        if (skip) return;
        return speech(msg, network, nick);
      case 'JOIN': {
        const ep = routes.find(network, irc.params[0] ?? '');
        if (cfg.events.joins && ep && !skip) return relayEvent([ep], { type: 'join', nick });
        return;
      }
      case 'PART': {
        const reason = irc.params[1] || undefined;
        const eps = (irc.params[0] ?? '').split(',').map((ch) => routes.find(network, ch)).filter((e): e is Endpoint => e !== undefined);
        if (cfg.events.parts && !skip && eps.length) return relayEvent(eps, { type: 'part', nick, reason });
        return;
      }
      case 'KICK': {
        const ep = routes.find(network, irc.params[0] ?? '');
        const kicked = irc.params[1];
        if (!ep || !kicked || isSelf(kicked)) return;
        if (cfg.events.parts && !ignored.has(ircLower(kicked))) return relayEvent([ep], { type: 'kick', nick: kicked, by: nick, reason: irc.params[2] || undefined });
        return;
      }
      case 'QUIT': {
        if (cfg.events.quits && !skip && wasIn.length) return relayEvent(wasIn, { type: 'quit', nick, reason: irc.params[0] || undefined });
        return;
      }
      case 'NICK': {
        const newNick = irc.params[0];
        // hive.nick may already be the new nick when the bot's own NICK line arrives.
        if (!newNick || isSelf(nick) || isSelf(newNick)) return;
        if (cfg.events.nicks && !skip && wasIn.length) return relayEvent(wasIn, { type: 'nick', nick, newNick });
        return;
      }
      default:
        return;
    }
  };

  hive.onMessage(handle);

  if (cfg.events.quits || cfg.events.nicks) {
    // QUIT and NICK name no channel: ask who is where, in case the bot joined before this node ran.
    const askNames = () => {
      for (const network of new Set(routes.all.map((e) => e.network))) {
        hive.send({ lines: endpointsOn(network).map((e) => Buffer.from(`NAMES ${e.channel}`)), meta: { 'hive.network': network } })
          .catch((err: unknown) => log.warn({ err, network }, 'NAMES request failed; quits and nick changes there are relayed once the bot sees who is in'));
      }
    };
    hive.onAttached(askNames);
  }

  log.info({ groups: Object.keys(cfg.groups), channels: routes.all.length }, 'bridge ready');
});
