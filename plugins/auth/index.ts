/**
 * auth: a filter that works out who is speaking and what they may do. Every message it passes down
 * gets `hive.capabilities` (always: whatever came from above is replaced, never trusted) and
 * `hive.account` when the speaker's services account is known. Capabilities come from the config:
 * per account, per hostmask glob, and a default set for everyone.
 *
 * Accounts are learnt from the lines passing down: the account-tag (the mouth's hive.account),
 * extended-join, account-notify, and WHOX replies to a `WHO #chan %tna,471` it sends once per
 * channel when the bot joins (or when someone speaks whose account nothing else told) — one at a
 * time per network, coalesced and bounded (whox-queue.ts), so a storm of JOINs cannot make it
 * flood the mouth's queue.
 * Run it with `on_death: hold`, so that its subtree is cut off rather than bypassed while it is down.
 */
import { c, line, type Incoming, type Meta, createLogLimiter, definePlugin, type PluginManifest } from '../../protocol/sdk/index.js';
import { describe, Identities, WHOX_TOKEN, type Identity } from './identity.js';
import { WhoxQueue } from './whox-queue.js';

const Capability = c.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/, 'a capability is a word like admin or notes.delete');
const Mask = c.string().regex(/^[^!@\s]+![^!@\s]+@[^!@\s]+$/, 'a mask looks like nick!user@host (with * and ? as wildcards)');

const Config = c.object({
  /** services account → capabilities */
  accounts: c.record(c.string().min(1), c.array(Capability)).default({}),
  /** nick!user@host glob → capabilities */
  masks: c.record(Mask, c.array(Capability)).default({}),
  /** what everybody has */
  default: c.array(Capability).default([]),
  /** ask the server with WHOX for accounts nothing else told */
  whox: c.boolean().default(true),
}).strict();
type Config = c.Infer<typeof Config>;

const manifest = {
  name: 'auth',
  kind: 'filter',
  description: 'Attaches the speaker\'s account and capabilities to every message for its subtree.',
  config: Config,
} satisfies PluginManifest;

export default definePlugin(manifest, function auth(hive) {
  const config = hive.config;
  const ids = new Identities(config);
  // What the down hook worked out for a message, for `whoami` (handled right after, same object).
  const seen = new WeakMap<Incoming, Identity>();

  const warnLimit = createLogLimiter({ max: 3 });
  const whox = new WhoxQueue({
    send: (network, channel) => {
      hive.log.debug({ network, channel }, 'asking WHOX for the accounts in a channel');
      return hive.send({ lines: [line(`WHO ${channel} %tna,${WHOX_TOKEN}`)], meta: { 'hive.network': network } }).catch((err: Error) => {
        // A few lines a minute: refusals come in storms, and each would log the same.
        const suppressed = warnLimit.take(network);
        if (suppressed !== undefined) hive.log.warn({ network, channel, reason: err.message, failed: whox.stats.failed + 1, suppressed }, 'WHOX query not sent');
        throw err;
      });
    },
    onGiveUp: (network, channel) => ids.forgetAsked(network, channel),
  });
  const askWhox = (network: string, channel: string) => {
    if (config.whox) whox.request(network, channel);
  };
  hive.details(() => ({
    whox_sent: whox.stats.sent,
    whox_coalesced: whox.stats.coalesced,
    whox_skipped: whox.stats.skipped,
    whox_failed: whox.stats.failed,
    whox_timed_out: whox.stats.timedOut,
    whox_pending: whox.pending,
  }));

  let whoxAnswers = 0;
  hive.filter({
    down(msg) {
      const meta: Meta = { ...msg.meta };
      delete meta['hive.capabilities'];
      const network = msg.network;
      const irc = msg.irc;
      if (network && meta['hive.event'] === 'connecting') { ids.connecting(network); whox.reset(network); }
      if (network && irc) {
        const join = ids.see(network, irc, meta['hive.nick']);
        if (join) askWhox(network, join);
        if (irc.command === '354' && irc.params[1] === WHOX_TOKEN) whoxAnswers++;
        if (irc.command === '315') {
          if (irc.params[1]) whox.answered(network, irc.params[1]);
          if (whoxAnswers > 0) hive.log.debug({ network, channel: irc.params[1], answers: whoxAnswers }, 'accounts learnt from WHO');
          whoxAnswers = 0;
        }
        const r = ids.identify(network, irc, meta['hive.account']);
        if (r) {
          seen.set(msg, r.who);
          if (r.ask) askWhox(network, r.ask);
          if (r.who.account) meta['hive.account'] = r.who.account;
          else delete meta['hive.account'];
          meta['hive.capabilities'] = r.who.capabilities;
          return { lines: msg.lines, meta };
        }
      }
      // No speaker (a server numeric, a mouth event): nobody's capabilities.
      meta['hive.capabilities'] = [];
      return { lines: msg.lines, meta };
    },
  });

  hive.command('whoami', {
    help: 'whoami — says who the bot takes you for: account, matching masks, capabilities',
    examples: [['!whoami', 'alice (alice!~alice@example.org): account alice; matching masks: none; capabilities: admin']],
  }, (cmd) => {
    const who = seen.get(cmd.message);
    return cmd.reply(who ? describe(who) : `${cmd.nick}: I cannot tell who you are`);
  });
});
