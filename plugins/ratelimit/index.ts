/**
 * ratelimit: a filter that lets each user give at most `commands` commands per `per` through it.
 * Beyond that the user gets one notice saying how long to wait, and their commands are dropped
 * silently until a slot frees. A user is their services account where the metadata has one
 * (hive.account, from the server or an auth filter above), else their nick!user@host. Only
 * commands count (what the SDK recognises as one: prefix, address, or a private message); other
 * lines pass freely.
 */
import { c, ircLower, parseCommand, definePlugin, type PluginManifest } from '../../protocol/sdk/index.js';
import { Limiter } from './limiter.js';

const Config = c.object({
  /** commands per window and user */
  commands: c.number().int().min(1).max(10_000).default(5),
  /** the window: 10s, 1m, … */
  per: c.duration().default(10_000).refine((ms) => ms >= 1, 'the window must be at least 1 ms'),
}).strict();
type Config = c.Infer<typeof Config>;

const manifest = {
  name: 'ratelimit',
  kind: 'filter',
  description: 'At most N commands per window and user through it; one notice, then silence.',
  config: Config,
} satisfies PluginManifest;

export default definePlugin(manifest, function ratelimit(hive) {
  const config = hive.config;
  const limiter = new Limiter(config.commands, config.per);
  let dropped = 0;
  let notices = 0;

  hive.filter({
    down(msg) {
      const irc = msg.irc;
      const network = msg.network;
      // Queries an aggregator above makes up are not a user typing.
      if (!irc || !network || msg.meta['hive.query']) return;
      const cmd = parseCommand(irc, msg.meta['hive.nick'], hive.commandPrefix);
      if (!cmd) return;
      const account = msg.meta['hive.account'];
      const user = account ? `account ${ircLower(account)}` : `mask ${ircLower(irc.prefix)}`;
      const v = limiter.check(`${network} ${user}`, Date.now());
      if (v.ok) return;
      dropped++;
      if (v.notice) {
        notices++;
        const secs = Math.max(1, Math.ceil(v.waitMs / 1000));
        hive.log.info({ network, user, command: cmd.name, waitMs: v.waitMs }, 'user over the command rate; noticed, dropping until the window passes');
        hive.replyWith(msg, [`NOTICE ${cmd.nick} :you are sending commands too fast; wait ${secs}s`])
          .catch((err: Error) => hive.log.warn({ reason: err.message }, 'rate-limit notice not sent'));
      } else {
        hive.log.debug({ network, user, command: cmd.name }, 'command dropped: over the rate');
      }
      return null;
    },
  });

  hive.details(() => ({ commands: config.commands, per_ms: config.per, users_tracked: limiter.size, users_limited: limiter.limited(Date.now()), dropped, notices }));
});
