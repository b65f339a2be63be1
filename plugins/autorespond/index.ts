/**
 * autorespond: answers ordinary messages that match a rule (`/REGEX/flags` → RESPONSE).
 *
 * Rules belong to a network and apply in every channel of it and in private messages to the bot;
 * they are kept in `rules.json` in the node's state folder. The first enabled rule (lowest number)
 * that matches answers, once per message. Users' regexes run in a worker thread with a time budget
 * per rule (matcher.ts), so a catastrophic pattern costs a killed worker, never a hung plugin; a
 * rule that overruns `max_overruns` times is disabled. A cooldown per channel (or per private
 * correspondent) and a cap per minute keep two bots from answering each other for ever.
 */
import { c, definePlugin, hasCapability, ircLower, isChannel, openStore, parseCommand, privmsg, type Incoming, type MessageSubscription, type PluginManifest } from '../../protocol/sdk/index.js';
import { Matcher, type RuleSource } from './matcher.js';

const configSchema = c.object({
  /** The capability that `ar add` and `ar del` need. */
  edit_capability: c.string().min(1).max(64).default('autorespond.edit'),
  /** How long one rule may take on one message. */
  match_timeout: c.duration().default(200),
  /** After this many overruns a rule is disabled; 0: never. */
  max_overruns: c.number().int().min(0).default(3),
  max_pattern_length: c.number().int().min(1).max(2000).default(200),
  max_response_length: c.number().int().min(1).max(2000).default(300),
  /** Rules per network. */
  max_rules: c.number().int().min(1).max(10_000).default(100),
  /** After an answer in a channel (or to a nick in private), no other answer there for this long. */
  cooldown: c.duration().default(10_000),
  /** Answers per minute, over all networks and channels. */
  max_answers_per_minute: c.number().int().min(1).default(20),
  /** `ar list` shows this many rules per page. */
  page_size: c.number().int().min(1).max(50).default(10),
}).strict();

const manifest = {
  name: 'autorespond',
  kind: 'responder',
  description: 'answers messages that match a regex rule',
  config: configSchema,
} satisfies PluginManifest;

const ruleSchema = c.object({
  id: c.number().int().positive(),
  pattern: c.string(),
  flags: c.string(),
  response: c.string(),
  by: c.string(),
  at: c.number(),
  overruns: c.number().int().nonnegative(),
  disabled: c.boolean(),
  /** hive.id of the message that added it: a replayed `ar add` (after a crash) adds nothing twice. */
  msg: c.string().optional(),
});
type Rule = c.Infer<typeof ruleSchema>;

const stateSchema = c.object({
  version: c.literal(1),
  networks: c.record(c.string(), c.object({ next: c.number().int().positive(), rules: c.array(ruleSchema) })),
});
type State = c.Infer<typeof stateSchema>;

const ALLOWED_FLAGS = 'imsu';
const MAX_PENDING = 100;

export type ParsedRule = { pattern: string; flags: string; response: string } | { error: string };

/** Splits `/REGEX/flags RESPONSE`; the closing slash is the first one not escaped and not in a [class]. */
export function parseRule(args: string, limits: { maxPattern: number; maxResponse: number }): ParsedRule {
  if (!args.startsWith('/')) return { error: 'write the pattern between slashes, then the response: ar add /REGEX/flags RESPONSE' };
  let end = -1;
  let inClass = false;
  for (let i = 1; i < args.length; i++) {
    const c = args[i];
    if (c === '\\') { i++; continue; }
    if (c === '[') inClass = true;
    else if (c === ']') inClass = false;
    else if (c === '/' && !inClass) { end = i; break; }
  }
  if (end < 0) return { error: 'the pattern has no closing slash: ar add /REGEX/flags RESPONSE' };
  const pattern = args.slice(1, end);
  if (!pattern) return { error: 'the pattern is empty' };
  if (pattern.length > limits.maxPattern) return { error: `the pattern is longer than ${limits.maxPattern} characters` };
  const m = /^(\S*)(?:\s+([\s\S]*))?$/.exec(args.slice(end + 1))!;
  const flags = m[1]!;
  const bad = [...flags].filter((f) => !ALLOWED_FLAGS.includes(f));
  if (bad.length) return { error: `unknown or unusable flag${bad.length > 1 ? 's' : ''} '${bad.join('')}'; flags may be i, m, s and u` };
  const response = (m[2] ?? '').trim();
  if (!response) return { error: 'give a response after the pattern: ar add /REGEX/flags RESPONSE' };
  if (response.length > limits.maxResponse) return { error: `the response is longer than ${limits.maxResponse} characters` };
  try {
    new RegExp(pattern, flags); // compiling is cheap and safe; only matching can run away
  } catch (err) {
    return { error: `invalid regex: ${(err as Error).message}` };
  }
  return { pattern, flags, response };
}

function show(r: Rule, maxOverruns: number): string {
  let s = `#${r.id} /${r.pattern}/${r.flags} → ${r.response}`;
  if (r.disabled) s += ` [disabled: took too long ${r.overruns}×]`;
  else if (r.overruns > 0) s += ` [took too long ${r.overruns}×${maxOverruns ? ` of ${maxOverruns}` : ''}]`;
  return s;
}

export default definePlugin(manifest, async function autorespond(hive) {
  const config = hive.config;
  const store = await openStore<State>({
    stateDir: hive.stateDir,
    file: 'rules.json',
    schema: stateSchema,
    initial: () => ({ version: 1, networks: {} }),
    log: hive.log,
  });
  const matcher = new Matcher({ timeoutMs: config.match_timeout, log: hive.log });
  const cooldownUntil = new Map<string, number>();
  const answeredAt: number[] = [];
  const p = hive.commandPrefix;
  const usage = `usage: ${p}ar add /REGEX/flags RESPONSE | ${p}ar list [PAGE] | ${p}ar del N`;

  const rulesOf = (network: string): Rule[] => store.data.networks[network]?.rules ?? [];

  hive.command('ar', {
    help: 'ar add /REGEX/flags RESPONSE | ar list [PAGE] | ar del N — automatic answers to messages matching a pattern (add and del need the autorespond.edit capability)',
    examples: [['!ar add /\\bdeploy\\b/i deploys happen on Tuesdays', 'rule 1 added'], ['!ar list', '#1 /\\bdeploy\\b/i → deploys happen on Tuesdays'], ['!ar del 1', 'rule 1 deleted']],
  }, async (cmd) => {
    const [sub = '', ...restWords] = cmd.args.split(/\s+/);
    const rest = cmd.args.slice(sub.length).trim();
    const network = cmd.network;
    switch (sub.toLowerCase()) {
      case 'add': {
        if (!hasCapability(cmd.message.meta, config.edit_capability)) return cmd.reply(`ar: adding rules needs the capability '${config.edit_capability}'`);
        const parsed = parseRule(rest, { maxPattern: config.max_pattern_length, maxResponse: config.max_response_length });
        if ('error' in parsed) return cmd.reply(`ar add: ${parsed.error}`);
        const msgId = cmd.message.meta['hive.id'];
        const again = msgId ? rulesOf(network).find((r) => r.msg === msgId) : undefined;
        if (again) return cmd.reply(`rule ${again.id} added`);
        if (rulesOf(network).length >= config.max_rules) return cmd.reply(`ar add: this network has ${config.max_rules} rules already; delete one first`);
        const id = await store.update((d) => {
          const net = (d.networks[network] ??= { next: 1, rules: [] });
          const rule: Rule = { id: net.next++, ...parsed, by: cmd.nick, at: Date.now(), overruns: 0, disabled: false, ...(msgId ? { msg: msgId } : {}) };
          net.rules.push(rule);
          return rule.id;
        });
        await listen();
        hive.log.info({ network, rule: id, pattern: parsed.pattern, flags: parsed.flags, by: cmd.nick }, 'rule added');
        return cmd.reply(`rule ${id} added`);
      }
      case 'del':
      case 'delete':
      case 'rm': {
        if (!hasCapability(cmd.message.meta, config.edit_capability)) return cmd.reply(`ar: deleting rules needs the capability '${config.edit_capability}'`);
        if (!/^#?\d+$/.test(rest)) return cmd.reply(`ar del: give the rule's number, as ${p}ar list shows it`);
        const id = Number(rest.replace('#', ''));
        const gone = await store.update((d) => {
          const net = d.networks[network];
          const i = net ? net.rules.findIndex((r) => r.id === id) : -1;
          if (i < 0) return false;
          net!.rules.splice(i, 1);
          return true;
        });
        await listen();
        if (!gone) return cmd.reply(`ar del: there is no rule ${id} on this network`);
        hive.log.info({ network, rule: id, by: cmd.nick }, 'rule deleted');
        return cmd.reply(`rule ${id} deleted`);
      }
      case 'list':
      case 'ls': {
        const rules = rulesOf(network);
        if (rules.length === 0) return cmd.reply(`no rules yet; add one with ${p}ar add /REGEX/flags RESPONSE`);
        const pages = Math.ceil(rules.length / config.page_size);
        const page = restWords.length ? Number(restWords[0]) : 1;
        if (!Number.isInteger(page) || page < 1 || page > pages) return cmd.reply(`ar list: pages go from 1 to ${pages}`);
        const lines = rules.slice((page - 1) * config.page_size, page * config.page_size).map((r) => show(r, config.max_overruns));
        if (pages > 1) lines.push(`page ${page} of ${pages}${page < pages ? `; ${p}ar list ${page + 1} for more` : ''}`);
        return cmd.reply(lines);
      }
      default:
        return cmd.reply(sub ? `ar: no subcommand '${sub}'; ${usage}` : usage);
    }
  });

  /** Counts an overrun of `rule` and disables it after max_overruns. */
  const overran = async (network: string, src: RuleSource, text: string) => {
    const r = await store.update((d) => {
      const rule = d.networks[network]?.rules.find((x) => x.id === src.id);
      if (!rule) return undefined;
      rule.overruns++;
      if (config.max_overruns > 0 && rule.overruns >= config.max_overruns) rule.disabled = true;
      return { overruns: rule.overruns, disabled: rule.disabled };
    });
    if (r?.disabled) await listen();
    hive.log.warn({ network, rule: src.id, pattern: src.source, flags: src.flags, overruns: r?.overruns, disabled: r?.disabled, textLength: text.length, budgetMs: config.match_timeout },
      r?.disabled ? 'rule took too long to match and is now disabled' : 'rule took too long to match; skipped for this message');
  };

  const answer = async (msg: Incoming) => {
    const irc = msg.irc!;
    const network = msg.network!;
    const own = msg.meta['hive.nick'];
    if (own && ircLower(irc.nick) === ircLower(own)) return; // our own line (echo-message)
    // Our own commands are not ordinary talk; other plugins' commands are (a rule may want them).
    if (parseCommand(irc, own, hive.commandPrefix)?.name === 'ar') return;
    let text = irc.params[irc.params.length - 1] ?? '';
    if (text.startsWith('\x01')) {
      const action = /^\x01ACTION ([\s\S]*?)\x01?$/.exec(text);
      if (!action) return; // CTCP requests are not talk
      text = action[1]!;
    }
    const target = irc.params[0] ?? '';
    const replyTo = isChannel(target) ? target : irc.nick;
    const where = `${network}\0${ircLower(replyTo)}`;
    const now = Date.now();
    if ((cooldownUntil.get(where) ?? 0) > now) return;
    const rules = rulesOf(network).filter((r) => !r.disabled);
    if (rules.length === 0) return;
    if (matcher.pending >= MAX_PENDING) {
      hive.count('dropped');
      hive.log.warn({ network, pending: matcher.pending }, 'too many messages waiting for matching; message not matched');
      return;
    }
    const id = await matcher.match(text, rules.map((r) => ({ id: r.id, source: r.pattern, flags: r.flags })), (src) => overran(network, src, text));
    if (id === undefined) return;
    const rule = rulesOf(network).find((r) => r.id === id && !r.disabled);
    if (!rule) return; // deleted while matching
    // Checked again: other messages to this place may have been answered while this one waited.
    const t = Date.now();
    if ((cooldownUntil.get(where) ?? 0) > t) return;
    while (answeredAt.length && answeredAt[0]! <= t - 60_000) answeredAt.shift();
    if (answeredAt.length >= config.max_answers_per_minute) {
      hive.count('dropped');
      hive.log.warn({ network, rule: id }, 'answer cap per minute reached; not answering');
      return;
    }
    answeredAt.push(t);
    cooldownUntil.set(where, t + config.cooldown);
    if (cooldownUntil.size > 10_000) for (const [k, until] of cooldownUntil) if (until <= t) cooldownUntil.delete(k);
    hive.log.debug({ network, rule: id, to: replyTo }, 'answering');
    await hive.replyWith(msg, [privmsg(replyTo, rule.response)]);
  };

  const talk: MessageSubscription = hive.onMessage((msg) => {
    // A room's history replayed on (re)join is old talk: answered when it was said, not again.
    if (!msg.irc || msg.irc.command !== 'PRIVMSG' || !msg.network || msg.meta['hive.query'] || msg.meta['hive.history'] === true) return;
    return answer(msg);
    // Only PRIVMSG can be answered: the bus sends this process nothing else (docs/protocol.md#routes).
  }, { routes: [] });
  // Talk is taken only while a rule can answer it: with none enabled, the bus sends this process
  // its own command alone (docs/protocol.md#routes), and the channel's traffic costs it nothing.
  function listen(): Promise<void> {
    const any = Object.values(store.data.networks).some((n) => n.rules.some((r) => !r.disabled));
    return talk.setRoutes(any ? ['PRIVMSG.*'] : []);
  }
  await listen();

  return () => matcher.close();
});
