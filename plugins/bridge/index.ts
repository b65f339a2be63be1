/**
 * bridge: relays talk between the channels of a group across networks, like IMMP's sync hook.
 * `<nick> text` for messages, `* nick text` for actions, optionally joins, parts, quits and nick
 * changes. The bot's own lines are never relayed (compared with hive.nick, the bot's nick on that
 * network), so two bridged channels on one network cannot feed each other. Long relays are left to
 * the mouth, which splits a long PRIVMSG into lines that fit.
 *
 * Where a network has message ids (an XMPP room), replies and corrections stay native: the bridge
 * gives each copy it relays an id of its own (hive.msgid), remembers recent messages by their ids,
 * and passes a reply on as a reply to the copy (hive.reply_msgid) and a correction as a correction
 * of the copy (hive.replaces). Where they cannot be native (IRC), a reply is shown with a short
 * quote and a correction as `s/old/new/` or `* correction: …` (rich-format.ts).
 */
import { ChannelMembers, definePlugin, ircLower, newMessageId, parseLine, type HiveMessage, type Incoming, type Manifest, type Meta } from '../../protocol/sdk/index.js';
import { buildRoutes, configSchema, endpointKey, type Endpoint } from './config.js';
import { classifyText, eventText, showNick, speechHead, trailingBytes, type NickStyle, type RelayEvent, type SpeechKind } from './format.js';
import { RecentRelays } from './echo.js';
import { capForIrc } from './irc-cap.js';
import { LateParts } from './late-parts.js';
import { MessageMemory, type Remembered } from './message-memory.js';
import { Gatherer, gatherKey } from './gatherer.js';
import { applySubstitution, correctionLines, isRoom, parseSubstitution, replyPrefix, stripFormatting } from './rich-format.js';

const manifest = {
  name: 'bridge',
  kind: 'automaton',
  description: 'Relays messages (and optionally joins, parts, quits and nick changes) between the channels of a group across networks.',
  config: configSchema,
} satisfies Manifest;

/** How long a relay is remembered to recognise it if it comes back through another of our connections. */
const ECHO_MEMORY_MS = 30_000;
/** Messages remembered for replies and corrections: at most this many, for at most this long. */
const MEMORY = { maxEntries: 2000, ttlMs: 30 * 60_000, maxPerPlace: 500 };
/** History lines said while the bot was out of a room, relayed per rejoin at most (the rest only remembered). */
const MAX_MISSED = 20;
/** An IRC user's s/old/new/ corrects their previous line only if that line is at most this old. */
const SUBSTITUTION_MS = 5 * 60_000;

/** A string metadata value, or undefined (absent, or not a string). */
const metaString = (meta: Meta, key: string): string | undefined => {
  const v = meta[key];
  return typeof v === 'string' && v.length > 0 ? v : undefined;
};

/** The links of a message (hive.links), bounded: at most MAX_LINKS, each a URL without spaces of at most MAX_URL characters. */
const MAX_LINKS = 16;
const MAX_URL = 2048;
const linksOf = (meta: Meta): string[] => {
  const v = meta['hive.links'];
  if (!Array.isArray(v)) return [];
  return v.filter((u): u is string => typeof u === 'string' && u.length > 0 && u.length <= MAX_URL && !/[\s\0]/.test(u)).slice(0, MAX_LINKS);
};

/** What one relay to one place is: its lines, and for a room the ids that keep it native. */
interface Relay {
  to: Endpoint;
  lines: Buffer[];
  /** Set for a room: the copy's own id, and what it replies to or corrects there. */
  meta?: Meta;
}

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
  const memory = new MessageMemory(MEMORY);
  const lateParts = new LateParts();
  /** Per place: the hive.time of the last live line seen there, and the history lines relayed since. */
  const lastLive = new Map<string, number>();
  const missedRelayed = new Map<string, number>();
  // The ids the bridge gives its copies share a prefix (node name, run): a room that keeps the
  // sender's id and reflects a copy back is recognised by it, whatever nick the bot has there. A
  // room that stamps its own ids (MAM) hides it: there only the bot's nick stops the echo.
  const probe = newMessageId(hive.name);
  const ownIdPrefix = probe.slice(0, probe.lastIndexOf('-') + 1);
  // Shown from the start in the Counters property, as 0.
  hive.count('relayed', 0);
  hive.count('relay_failed', 0);
  hive.count('lines_cut', 0);
  hive.count('corrections_refused', 0);
  hive.count('history_relayed', 0);
  hive.count('history_not_relayed', 0);
  const log = hive.log;

  const keyOf = (e: Endpoint) => endpointKey(e.network, e.channel);
  const ircNetworks = new Set(cfg.irc_networks);
  /** A room: a channel shaped like one (#room@domain), on a network not declared IRC (where #a@b is a legal channel). */
  const roomAt = (network: string, channel: string) => !ircNetworks.has(network) && isRoom(channel);
  const styleFor = (to: Endpoint): NickStyle => ({ colour: cfg.colours && !plain.has(to.network) && !roomAt(to.network, to.channel), noHighlight: cfg.no_highlight });
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

  const send = async (network: string, items: Relay[], meta: Meta) => {
    // No hive.reply_to: a relay is not an answer, and the mouth's replay check keys replies by
    // (origin, reply_to), which would drop the relay to a second network as a duplicate.
    const msg: HiveMessage = { lines: items.flatMap((i) => i.lines), meta: { ...meta, 'hive.network': network } satisfies Meta };
    // Remembered before sending: the line can come back from the server before Send returns.
    const now = Date.now();
    for (const l of msg.lines) recent.remember(network, l.toString('utf8'), now);
    try {
      await hive.send(msg);
      hive.count('relayed', items.length);
    } catch (err) {
      hive.count('relay_failed');
      log.error({ err, network, channels: items.map((i) => i.to.channel) }, 'relay failed');
    }
  };

  /**
   * Sends each place its relay: the relays to a network's channels as one message (its lines kept
   * together), a room's alone (its ids are its own). A failing network is logged and counted and
   * the others still get theirs.
   */
  const deliver = async (relays: Relay[]) => {
    const byNetwork = new Map<string, Relay[]>();
    const alone: Relay[] = [];
    for (const r of relays) {
      if (r.lines.length === 0) continue;
      if (r.meta) { alone.push(r); continue; }
      let list = byNetwork.get(r.to.network);
      if (!list) { list = []; byNetwork.set(r.to.network, list); }
      list.push(r);
    }
    await Promise.all([
      ...[...byNetwork].map(([network, items]) => send(network, items, {})),
      ...alone.map((r) => send(r.to.network, [r], r.meta!)),
    ]);
  };

  const relay = (targets: Endpoint[], build: (to: Endpoint) => Buffer) =>
    deliver(targets.map((to) => ({ to, lines: [build(to)], meta: roomAt(to.network, to.channel) ? { 'hive.msgid': newMessageId(hive.name) } : undefined })));

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
    return relay(targets, (to) => Buffer.from(`PRIVMSG ${to.channel} :${eventText(e, styleFor(to))}`, 'utf8'));
  };

  /**
   * The lines of one relay: the head before the first line (or before every line on IRC, where
   * each line stands alone). On IRC at most max_lines lines as IRC will see them: the mouth splits a
   * long line into parts of about IRC_LINE_BYTES, so a line costs one per IRC_LINE_BYTES of it. What
   * does not fit is cut; the last line says how much (and it is counted in lines_cut).
   */
  const relayLines = (to: Endpoint, command: string, head: string, bodies: Buffer[], maxLines = cfg.max_lines): Buffer[] => {
    const room = roomAt(to.network, to.channel);
    let list = bodies;
    if (!room) {
      const capped = capForIrc(bodies, maxLines);
      if (capped.cut > 0) hive.count('lines_cut', capped.cut);
      list = capped.lines;
    }
    return list.map((body, i) => {
      let h = i === 0 || !room ? head : '';
      if (body.length === 0) h = h.trimEnd();
      // The speaker's bytes go on untouched (on IRC): text that is not UTF-8 stays as it was.
      return Buffer.concat([Buffer.from(`${command} ${to.channel} :${h}`, 'utf8'), body]);
    });
  };

  /** A room gets text without IRC's formatting codes (its clients would show them raw). */
  const bodiesFor = (to: Endpoint, bodies: Buffer[]) => (roomAt(to.network, to.channel) ? bodies.map((b) => Buffer.from(stripFormatting(b.toString('utf8')), 'utf8')) : bodies);

  const toBuffers = (lines: string[]) => lines.map((l) => Buffer.from(l, 'utf8'));

  /** A copy's own id in room `to`, remembered so that replies to it and corrections of it there find `entry`. */
  const copyId = (entry: Remembered, to: Endpoint): string => {
    const id = newMessageId(hive.name);
    memory.setId(entry, keyOf(to), id);
    return id;
  };

  /**
   * The nick a reply quotes: someone who said it in the very channel the reply goes to is there and
   * is being answered, so they are highlighted, as an IRC reply `alice: …` would; anyone else not.
   */
  const quotedNick = (answered: Remembered, to: Endpoint) =>
    showNick(answered.nick, { ...styleFor(to), noHighlight: cfg.no_highlight && answered.where !== keyOf(to) });

  const speech = (msg: Incoming, network: string, nick: string) => {
    const irc = msg.irc!;
    const target = irc.params[0] ?? '';
    const from = routes.find(network, target);
    if (!from) return; // private messages, unbridged channels, @#channel (ops only)
    if (irc.command === 'NOTICE' && !cfg.notices) return;
    const msgid = metaString(msg.meta, 'hive.msgid');
    if (msgid?.startsWith(ownIdPrefix)) return; // a copy of ours, reflected by the room
    // Several lines to one place are one message (a multi-line XMPP message): all of them go on.
    const texts: Buffer[] = [];
    for (const [i, l] of msg.lines.entries()) {
      const p = i === 0 ? irc : parseLine(l);
      if (!p || p.command !== irc.command || ircLower(p.params[0] ?? '') !== ircLower(target)) continue;
      const t = trailingBytes(l);
      if (t && t.length > 0) texts.push(t);
    }
    if (texts.length === 0) return;
    const c = classifyText(texts[0]!);
    if (c.kind === 'ctcp') return; // VERSION, PING, …: meant for clients, not people
    const bodies = [c.body, ...texts.slice(1)];
    let text = stripFormatting(bodies.map((b) => b.toString('utf8')).join('\n'));
    // An attachment (XEP-0066) whose address is not in the text: its address is a line of its own,
    // so the other side can open it.
    for (const url of linksOf(msg.meta)) {
      if (text.includes(url)) continue;
      bodies.push(Buffer.from(url, 'utf8'));
      text += `\n${url}`;
    }
    if (isOurEcho(network, nick, texts[0]!.toString('utf8'))) {
      log.debug({ network, channel: from.channel }, 'own relay seen again; not relayed');
      return;
    }
    const now = Date.now();
    const fromKey = keyOf(from);
    const account = metaString(msg.meta, 'hive.account');
    const said = typeof msg.meta['hive.time'] === 'number' ? msg.meta['hive.time'] : undefined;
    if (msg.meta['hive.history']) {
      // Old lines replayed by the room on (re)join. Those said after the last line the bot saw
      // there live, and not seen, were said while it was out: relayed (a bounded number per
      // rejoin). The rest is not news, but replies to them can be quoted; not anyone's latest line.
      const seenUntil = lastLive.get(fromKey);
      const relayed = missedRelayed.get(fromKey) ?? 0;
      // A room may stamp history in whole seconds (Prosody does): a line in the same second as
      // the last one seen counts, unless it is one the bridge saw (by its id, or the speaker's
      // latest text there).
      const missed = seenUntil !== undefined && said !== undefined && said >= Math.floor(seenUntil / 1000) * 1000
        && (msgid === undefined || !memory.find(fromKey, msgid, now)) && memory.lastOf(fromKey, nick, now)?.text !== text;
      if (!missed || relayed >= MAX_MISSED) {
        if (missed) hive.count('history_not_relayed');
        const old = memory.add(fromKey, nick, text, msgid, now, true);
        old.account = account;
        return;
      }
      missedRelayed.set(fromKey, relayed + 1);
      lastLive.set(fromKey, Math.max(seenUntil, said));
      hive.count('history_relayed');
    } else {
      lastLive.set(fromKey, said ?? now);
      missedRelayed.delete(fromKey);
    }
    const kind: SpeechKind = irc.command === 'NOTICE' ? 'notice' : c.kind === 'action' ? 'action' : 'message';
    const command = kind === 'notice' ? 'NOTICE' : 'PRIVMSG';
    const headFor = (to: Endpoint) => speechHead(kind, nick, styleFor(to));
    const others = routes.others(from);
    // A group without rooms has no ids to keep: nothing to remember.
    if (!roomAt(from.network, from.channel) && !others.some((o) => roomAt(o.network, o.channel))) {
      return deliver(others.map((to) => ({ to, lines: relayLines(to, command, headFor(to), bodies) })));
    }

    const replaces = metaString(msg.meta, 'hive.replaces');
    if (replaces === undefined && msgid !== undefined && roomAt(from.network, from.channel)) {
      // The same id again from the same speaker: a late part of a multi-line message (it came
      // after a pause longer than the gatherer waits).
      const earlier = memory.find(fromKey, msgid, now);
      if (earlier && sameSpeaker(earlier, fromKey, nick, account)) {
        const late = latePart(from, earlier, msgid, bodies, { kind, others, now });
        if (late) return late;
      }
    }
    if (replaces !== undefined) return correction(from, nick, account, replaces, msgid, text, { kind, command, headFor, others, now });

    const sub = roomAt(from.network, from.channel) ? undefined : parseSubstitution(text);
    const last = sub ? memory.lastOf(fromKey, nick, now) : undefined;
    const fixed = last && !last.truncated && now - last.at < SUBSTITUTION_MS ? applySubstitution(last.text, sub!) : undefined;
    if (last && fixed !== undefined) {
      // An IRC user's s/old/new/ of their previous line: a real correction of each room's copy,
      // said the way the line was (a /me stays `* nick …`); IRC readers get the s/old/new/ itself.
      memory.update(last, fixed);
      const was = (last.kind ?? kind) as SpeechKind;
      const wasCommand = was === 'notice' ? 'NOTICE' : 'PRIVMSG';
      return deliver(others.map((to) => {
        const copy = last.ids.get(keyOf(to));
        if (roomAt(to.network, to.channel) && copy) {
          return { to, lines: relayLines(to, wasCommand, speechHead(was, nick, styleFor(to)), toBuffers(fixed.split('\n'))), meta: { 'hive.msgid': newMessageId(hive.name), 'hive.replaces': copy } };
        }
        return { to, lines: relayLines(to, command, headFor(to), bodiesFor(to, bodies)), meta: roomAt(to.network, to.channel) ? { 'hive.msgid': newMessageId(hive.name) } : undefined };
      }));
    }

    const replyTo = metaString(msg.meta, 'hive.reply_msgid');
    const answered = replyTo !== undefined ? memory.find(fromKey, replyTo, now) : undefined;
    const entry = memory.add(fromKey, nick, text, msgid, now);
    entry.account = account;
    entry.kind = kind;
    if (msgid !== undefined && roomAt(from.network, from.channel)) {
      const capped = capForIrc(bodies, cfg.max_lines);
      lateParts.remember(fromKey, msgid, bodies, capped.cut > 0 ? cfg.max_lines : capped.lines.length, now);
    }
    return deliver(others.map((to): Relay => {
      let head = headFor(to);
      let own: Meta | undefined;
      if (roomAt(to.network, to.channel)) {
        own = { 'hive.msgid': copyId(entry, to) };
        const copy = answered?.ids.get(keyOf(to));
        if (copy) own['hive.reply_msgid'] = copy;
        else if (answered) head += replyPrefix(quotedNick(answered, to), answered.text);
      } else if (answered) {
        head += replyPrefix(quotedNick(answered, to), answered.text);
      }
      return { to, lines: relayLines(to, command, head, bodiesFor(to, bodies)), meta: own };
    }));
  };

  /**
   * A correction (hive.replaces) of message `replaces` in `from`: a correction of each room's copy,
   * `s/old/new/` or `* correction: …` on IRC. Only the speaker's own message, said there, is
   * corrected; anything else (an id not remembered, or someone else's message, or a copy the bridge
   * relayed) is treated as unknown: relayed as a new line marked as a correction. There is no guess
   * by "their last line": the mouth already gives a client's own id as the room's, and a guess
   * would replace an unrelated line.
   */
  const correction = (
    from: Endpoint, nick: string, account: string | undefined, replaces: string, msgid: string | undefined, text: string,
    how: { kind: SpeechKind; command: string; headFor: (to: Endpoint) => string; others: Endpoint[]; now: number },
  ) => {
    const fromKey = keyOf(from);
    const found = memory.find(fromKey, replaces, how.now);
    const before = found && sameSpeaker(found, fromKey, nick, account) ? found : undefined;
    if (found && !before) {
      hive.count('corrections_refused');
      log.info({ channel: from.channel, nick }, 'a correction of a message that is not the speaker\'s own: relayed as a new line');
    }
    const shown = before ? { text: before.text, truncated: before.truncated } : undefined;
    let entry = before;
    if (entry) {
      if (msgid !== undefined) memory.setId(entry, fromKey, msgid);
      memory.update(entry, text);
    } else {
      entry = memory.add(fromKey, nick, text, msgid, how.now);
      entry.account = account;
      entry.kind = how.kind;
      // Later corrections name the same original: they find this line (and its copies) then.
      memory.setId(entry, fromKey, replaces);
    }
    const marked = toBuffers(correctionLines(shown, text));
    return deliver(how.others.map((to): Relay => {
      const head = how.headFor(to);
      if (!roomAt(to.network, to.channel)) return { to, lines: relayLines(to, how.command, head, marked) };
      const copy = before?.ids.get(keyOf(to));
      if (copy) return { to, lines: relayLines(to, how.command, head, toBuffers(text.split('\n'))), meta: { 'hive.msgid': newMessageId(hive.name), 'hive.replaces': copy } };
      // No copy there to correct: a new line, marked; it is the copy later corrections replace.
      return { to, lines: relayLines(to, how.command, head, toBuffers(correctionLines(undefined, text))), meta: { 'hive.msgid': copyId(entry, to) } };
    }));
  };

  /**
   * A late part of room message `entry` (id `msgid` in `from`): each other room's copy is corrected
   * to the whole text so far (not a second message with the same id), each IRC channel gets the
   * extra lines, within what max_lines leaves of the message. Undefined when the message's text is
   * no longer kept (it is then relayed as a message of its own).
   */
  const latePart = (
    from: Endpoint, entry: Remembered, msgid: string, part: Buffer[],
    how: { kind: SpeechKind; others: Endpoint[]; now: number },
  ) => {
    const whole = lateParts.append(keyOf(from), msgid, part, how.now);
    if (whole === undefined) return undefined;
    if (whole === 'full') {
      hive.count('lines_cut', part.length);
      log.warn({ channel: from.channel, lines: part.length }, 'a late part of a message past the bounds of one message: not relayed');
      return Promise.resolve();
    }
    const was = (entry.kind ?? how.kind) as SpeechKind;
    const command = was === 'notice' ? 'NOTICE' : 'PRIVMSG';
    memory.update(entry, stripFormatting(whole.bodies.map((b) => b.toString('utf8')).join('\n')));
    const left = cfg.max_lines - whole.ircLines;
    let ircSent = 0;
    const relays = how.others.map((to): Relay => {
      const head = speechHead(was, entry.nick, styleFor(to));
      if (roomAt(to.network, to.channel)) {
        const copy = entry.ids.get(keyOf(to));
        if (copy) return { to, lines: relayLines(to, command, head, bodiesFor(to, whole.bodies)), meta: { 'hive.msgid': newMessageId(hive.name), 'hive.replaces': copy } };
        return { to, lines: relayLines(to, command, head, bodiesFor(to, part)), meta: { 'hive.msgid': copyId(entry, to) } };
      }
      if (left <= 0) {
        hive.count('lines_cut', part.length);
        return { to, lines: [] };
      }
      const lines = relayLines(to, command, head, part, left);
      ircSent = Math.max(ircSent, lines.length);
      return { to, lines };
    });
    whole.ircLines = left <= 0 || ircSent >= left ? cfg.max_lines : whole.ircLines + ircSent;
    return deliver(relays);
  };

  /**
   * Whether `e` is something `nick` (with `account`, if known) said in `fromKey` themselves: not a
   * copy the bridge relayed there, nor another occupant's line. Accounts are compared where both
   * are known (a nick in a room can change hands).
   */
  const sameSpeaker = (e: Remembered, fromKey: string, nick: string, account: string | undefined) =>
    e.where === fromKey && ircLower(e.nick) === ircLower(nick) && (e.account === undefined || account === undefined || e.account === account);

  /** A multi-line room message comes one line per HiveMessage: gathered, relayed whole. */
  const gatherer = new Gatherer((whole) => speech(whole, whole.network!, whole.irc!.nick));

  /** Speech from a room with an id may be the first line of several: gathered; anything else is relayed at once. */
  const gather = (msg: Incoming, network: string, nick: string): unknown => {
    const key = gatherKey(msg);
    const target = msg.irc!.params[0] ?? '';
    // History too: a multi-line message said while the bot was out is relayed whole.
    if (key === undefined || !roomAt(network, target) || !routes.find(network, target)) return speech(msg, network, nick);
    return gatherer.add(msg, key);
  };

  const handle = (msg: Incoming): unknown => {
    // Whatever does not continue the message being gathered comes after it: it is relayed first.
    if (!gatherer.continues(msg)) gatherer.flush();
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
    // Whoever leaves a channel or takes another nick has no latest line there any more: an
    // s/old/new/ from the next one with that nick must not correct theirs.
    const forgetIn = (eps: Endpoint[], who: string) => { for (const e of eps) memory.forgetLatest(keyOf(e), who); };
    if (irc.command === 'QUIT' || irc.command === 'NICK') forgetIn(endpointsOn(network), nick);
    else if (irc.command === 'PART') forgetIn((irc.params[0] ?? '').split(',').map((ch) => routes.find(network, ch)).filter((e): e is Endpoint => e !== undefined), nick);
    else if (irc.command === 'KICK' && irc.params[1]) forgetIn([routes.find(network, irc.params[0] ?? '')].filter((e): e is Endpoint => e !== undefined), irc.params[1]);

    switch (irc.command) {
      case 'PRIVMSG':
      case 'NOTICE':
        if (skip) return;
        return gather(msg, network, nick);
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
  hive.details(() => ({ remembered: memory.size }));

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
