/**
 * A responder that is too slow for an aggregator: `slow TEXT` answers `slow:TEXT` only after
 * `delay_ms` (config; without it, never). The compose tests put it under compose to see the
 * timeout reply and the late answer dropped: `node dist/plugins/run.js dist/plugins/compose/slow-example.js`.
 */
import { c, definePlugin } from '../../protocol/sdk/index.js';

const config = c.object({ delay_ms: c.number().int().min(0).max(600_000).optional() }).strict();

export default definePlugin({ name: 'slow', kind: 'responder', config }, (hive) => {
  const { delay_ms: delay } = hive.config;
  const timers = new Set<NodeJS.Timeout>();
  hive.command('slow', { help: 'slow TEXT — answers slow:TEXT, late or never', examples: [['!slow hi', 'slow:hi']] }, (cmd) => {
    hive.log.info({ text: cmd.args, query: cmd.message.meta['hive.query'] === true }, 'slow asked');
    if (delay === undefined) return;
    const t = setTimeout(() => {
      timers.delete(t);
      cmd.reply(`slow:${cmd.args}`)
        .then(() => hive.log.info({ text: cmd.args }, 'slow answered'))
        .catch((err) => hive.log.warn({ err }, 'slow answer failed'));
    }, delay);
    timers.add(t);
  });
  return () => { for (const t of timers) clearTimeout(t); };
});
