/**
 * help: lists every command of every node in the live tree, grouped by plugin; `help CMD` gives
 * its line. It asks the bus for the hive's nodes each time, so a plugin loaded at runtime shows
 * up without a restart. What other nodes publish is checked entry by entry by the SDK
 * (hive.listCommands): a bad entry is skipped, counted in Details (`refused_entries`,
 * `refused_by`) and logged (rate-limited).
 */
import { createLogLimiter, definePlugin, HELP_LIMITS, type LogLimiter, type PluginContext } from '../../protocol/sdk/index.js';

interface Refusals {
  entries: number;
  nodesSkipped: number;
  /** Per node (at most maxNodes keys): entries skipped. */
  by: Record<string, number>;
}

async function liveCommands(hive: PluginContext, refusals: Refusals, logLimit: LogLimiter): Promise<Map<string, [string, string][]>> {
  const { nodes, skipped } = await hive.listCommands('hive');
  if (skipped) {
    refusals.nodesSkipped += skipped;
    if (logLimit.take('nodes') !== undefined) hive.log.warn({ nodes: nodes.length + skipped, asked: HELP_LIMITS.maxNodes }, 'more nodes than help asks; the rest are not listed');
  }
  const out = new Map<string, [string, string][]>();
  for (const { node, commands, refused } of nodes) {
    if (refused) {
      refusals.entries += refused;
      if (node in refusals.by || Object.keys(refusals.by).length < HELP_LIMITS.maxNodes) refusals.by[node] = (refusals.by[node] ?? 0) + refused;
      const suppressed = logLimit.take(node);
      if (suppressed !== undefined) hive.log.warn({ node, refused, suppressed }, 'skipped commands of a node: not pairs of strings, too long, or with control characters');
    }
    if (commands.length) out.set(node, commands);
  }
  return out;
}

export default definePlugin({ name: 'help', kind: 'responder' }, (hive) => {
  const refusals: Refusals = { entries: 0, nodesSkipped: 0, by: {} };
  const logLimit = createLogLimiter();
  hive.details(() => ({ refused_entries: refusals.entries, nodes_skipped: refusals.nodesSkipped, refused_by: { ...refusals.by } }));
  hive.command('help', { help: 'help [COMMAND] — lists the commands of every plugin, or explains one', examples: [['!help ping', 'ping — answers pong']] }, async (cmd) => {
    const all = await liveCommands(hive, refusals, logLimit);
    const p = hive.commandPrefix;
    if (cmd.args) {
      const want = cmd.args.replace(new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), '').toLowerCase();
      for (const [, cmds] of [...all].sort(([a], [b]) => a.localeCompare(b))) {
        const hit = cmds.find(([c]) => c === want);
        if (hit) return cmd.reply(hit[1]);
      }
      return cmd.reply(`no command '${want}'; say ${p}help for the list`);
    }
    const lines = [...all.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([node, cmds]) => `${node}: ${cmds.map(([c]) => p + c).join(', ')}`);
    return cmd.reply(lines.length ? lines : ['no commands']);
  });
});
