/**
 * sanitizer: a filter that limits what its subtree may send. A message coming up passes only if
 * every line of it does (nothing of a refused message is sent):
 *  - its command is one of `commands` (PRIVMSG, NOTICE);
 *  - it goes where the message it answers (hive.reply_to) was said, or privately to that message's
 *    speaker, or to one of `extra_targets`; a message answering nothing may only go to the latter;
 *  - no line names more than `max_highlights` members of the channel it goes to;
 *  - formatting codes are allowed, stripped or refused (`formatting`).
 * A refusal is the D-Bus error org.hive.Error.Refused to the child that sent it, and a log line.
 *
 * What it needs to know it learns from the lines passing down: hive.id → channel and speaker of
 * each message (kept for `reply_window`), and channel members (ChannelMembers; a channel it has not
 * seen a NAMES reply for is asked about with NAMES before a highlight check).
 */
import { c, ChannelMembers, definePlugin, HiveError, ircLower, isChannel, line, parseLine, Recent, type IrcLine, type PluginManifest } from '../../protocol/sdk/index.js';
import { channelsToCount, checkHighlights, checkStatic, stripLines, type Policy, type Refusal, type Rule, type Trigger } from './rules.js';

const Config = c.object({
  /** IRC commands the subtree may send (any case). */
  commands: c.array(c.string().regex(/^[A-Za-z]+$|^\d{3}$/, 'expected an IRC command such as PRIVMSG')).min(1).default(['PRIVMSG', 'NOTICE']),
  /** Channels or nicks the subtree may always send to, also on its own (automata). */
  extra_targets: c.array(c.string().min(1).regex(/^[^\s,]+$/, 'expected one channel or nick, without spaces or commas')).default([]),
  /** A line naming more members of its channel than this is refused. */
  max_highlights: c.number().int().min(0).default(5),
  /** Formatting codes (bold, colours, …): allowed, stripped from the text, or the message refused. */
  formatting: c.enum(['allow', 'strip', 'refuse']).default('allow'),
  /** How long a message going down is remembered as something a reply may answer. */
  reply_window: c.duration().default(10 * 60_000),
}).strict();

const manifest = {
  name: 'sanitizer',
  kind: 'filter',
  description: 'limits what its subtree may send: commands, targets, mass highlights, formatting',
  config: Config,
} satisfies PluginManifest;

const TRIGGERS_MAX = 20_000;
/** How long a highlight check waits for the NAMES reply of a channel it knows nothing of. */
const NAMES_WAIT_MS = 3000;
const NAMES_RETRY_MS = 60_000;

export default definePlugin(manifest, function sanitizer(hive) {
  const config = hive.config;
  const policy: Policy = {
    commands: new Set(config.commands.map((c) => c.toUpperCase())),
    extraTargets: new Set(config.extra_targets.map(ircLower)),
    maxHighlights: config.max_highlights,
    formatting: config.formatting,
  };
  const triggers = new Recent<string, Trigger>(TRIGGERS_MAX, config.reply_window);
  const members = new ChannelMembers();
  /** `network channel` (folded) → the NAMES question under way: its end, and what its 366 calls. */
  const namesPending = new Map<string, Promise<void>>();
  const namesWaiters = new Map<string, (answered: boolean) => void>();
  const namesAsked = new Map<string, number>();
  const ownNick = new Map<string, string>();
  const counts = { passed: 0, stripped: 0, refused: 0 };
  const refusedBy: Record<Rule, number> = { invalid: 0, command: 0, target: 0, highlight: 0, formatting: 0 };


  /**
   * Makes sure the members of `channel` are known, asking the server (NAMES) if not. A question
   * not answered in time is not asked again for a while (NAMES_RETRY_MS): a parent that refuses
   * NAMES must not cost every message a wait.
   */
  const ensureMembers = async (network: string, channel: string): Promise<void> => {
    if (members.complete(network, channel)) return;
    const key = `${network} ${ircLower(channel)}`;
    const pending = namesPending.get(key);
    if (pending) { await pending; return; }
    if (Date.now() - (namesAsked.get(key) ?? -Infinity) < NAMES_RETRY_MS) return;
    namesAsked.set(key, Date.now());
    const answered = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), NAMES_WAIT_MS);
      namesWaiters.set(key, (ok) => { clearTimeout(timer); resolve(ok); });
    });
    const done = answered.then((ok) => {
      namesWaiters.delete(key);
      namesPending.delete(key);
      if (!ok) hive.log.warn({ network, channel }, 'no NAMES reply in time; checking highlights against the members seen so far');
    });
    namesPending.set(key, done);
    hive.log.info({ network, channel }, 'members of the channel unknown; asking NAMES');
    hive.send({ lines: [line(`NAMES ${channel}`)], meta: { 'hive.network': network } })
      .catch((err) => {
        hive.log.warn({ err, network, channel }, 'NAMES could not be sent');
        namesWaiters.get(key)?.(false);
      });
    await done;
  };

  /** Learns from a line coming down: members, own nick, and the message as a possible trigger. */
  const learn = (network: string, irc: IrcLine | undefined, meta: Record<string, unknown>) => {
    const event = meta['hive.event'];
    if (event === 'connecting' || event === 'registered' || event === 'disconnected') {
      // A new connection: every channel is joined again and its NAMES reply comes down again.
      members.reset(network);
      return;
    }
    const nick = meta['hive.nick'];
    if (typeof nick === 'string') ownNick.set(network, nick);
    if (!irc) return;
    if (!meta['hive.query']) {
      members.see(network, irc, ownNick.get(network));
      if (irc.command === '366' && irc.params[1]) namesWaiters.get(`${network} ${ircLower(irc.params[1])}`)?.(true);
    }
    const id = meta['hive.id'];
    // Only what a user did can be answered; server lines (numerics, notices) have no speaker.
    if (typeof id === 'string' && irc.nick && irc.prefix.includes('!')) {
      const where = irc.params[0];
      triggers.set(id, { network, speaker: irc.nick, channel: where && isChannel(where) ? where : undefined }, Date.now());
    }
  };

  const refuse = (r: Refusal, info: Record<string, unknown>): never => {
    counts.refused++;
    refusedBy[r.rule]++;
    hive.log.warn({ ...info, rule: r.rule, reason: r.reason }, 'message refused');
    throw new HiveError('Refused', `sanitizer: ${r.reason}`);
  };

  hive.filter({
    down(msg) {
      if (msg.network) learn(msg.network, msg.irc, msg.meta);
    },
    async up(msg, child) {
      const network = msg.network;
      const replyTo = msg.meta['hive.reply_to'];
      const info = { child: child.name, origin: msg.meta['hive.origin'], network, replyTo };
      if (!network) return refuse({ rule: 'invalid', reason: 'the message has no hive.network' }, info);
      const parsed = msg.lines.map((l) => parseLine(l));
      const trigger = replyTo ? triggers.get(replyTo, Date.now()) : undefined;
      const bad = checkStatic(parsed, { network, replyTo, trigger }, policy);
      if (bad) return refuse(bad, info);
      const lines = parsed as IrcLine[];
      const channels = channelsToCount(lines);
      await Promise.all(channels.map((c) => ensureMembers(network, c)));
      const many = checkHighlights(lines, (c) => members.members(network, c), ownNick.get(network), policy.maxHighlights);
      if (many) return refuse(many, info);
      counts.passed++;
      if (policy.formatting === 'strip') {
        const stripped = stripLines(msg.lines, lines);
        if (stripped) {
          counts.stripped++;
          hive.log.debug(info, 'formatting stripped');
          return { lines: stripped, meta: msg.meta };
        }
      }
      return undefined;
    },
  });

  hive.details(() => ({ ...counts, refused_by: { ...refusedBy }, remembered: triggers.size }));

  const sweeper = setInterval(() => triggers.sweep(Date.now()), 60_000);
  sweeper.unref();
  return () => clearInterval(sweeper);
});
