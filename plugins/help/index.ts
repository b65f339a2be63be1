/**
 * help: lists every command of every node in the live tree, grouped by plugin; `help CMD` gives
 * its line. It asks the bus for the hive's nodes each time, so a plugin loaded at runtime shows
 * up without a restart. What other nodes publish is checked entry by entry (commands.ts): a bad
 * entry is skipped, counted in Details (`refused_entries`, `refused_by`) and logged (rate-limited).
 */
import type { Manifest, PluginContext } from '../../protocol/sdk/index.js';
import { NODE_INTERFACE, NODE_PATH } from '../../protocol/names.js';
import { callBus, callWithDeadline } from '../../protocol/sdk/bus.js';
import { createLogLimiter } from '../../protocol/log-limit.js';
import { HELP_LIMITS, checkCommands } from './commands.js';

export const manifest: Manifest = {
  name: 'help',
  kind: 'responder',
  commands: { help: { help: 'help [COMMAND] — lists the commands of every plugin, or explains one', examples: [['!help ping', 'ping — answers pong']] } },
};

interface Refusals {
  entries: number;
  nodesSkipped: number;
  /** Per node (at most maxNodes keys): entries skipped. */
  by: Record<string, number>;
}

async function liveCommands(hive: PluginContext, refusals: Refusals, logLimit: ReturnType<typeof createLogLimiter>): Promise<Map<string, [string, string][]>> {
  const prefix = hive.node.busName.slice(0, hive.node.busName.length - hive.name.length);
  const all = ((await callBus(hive.node.bus, 'ListNames', '', [])).body[0] as string[]).filter((n) => n.startsWith(prefix) && !n.endsWith('.Supervisor')).sort();
  const names = all.slice(0, HELP_LIMITS.maxNodes);
  if (all.length > names.length) {
    refusals.nodesSkipped += all.length - names.length;
    if (logLimit.take('nodes') !== undefined) hive.log.warn({ nodes: all.length, asked: names.length }, 'more nodes than help asks; the rest are not listed');
  }
  const out = new Map<string, [string, string][]>();
  await Promise.all(names.map(async (busName) => {
    const node = busName.slice(prefix.length);
    let value: unknown;
    try {
      const reply = await callWithDeadline(hive.node.bus, { destination: busName, path: NODE_PATH, interface: 'org.freedesktop.DBus.Properties', member: 'Get', signature: 'ss', body: [NODE_INTERFACE, 'Commands'] }, 1000);
      value = (reply.body[0] as { value?: unknown } | undefined)?.value;
    } catch (err) {
      hive.log.debug({ err, busName }, 'node did not answer for its commands');
      return;
    }
    const { commands, refused } = checkCommands(value);
    if (refused) {
      refusals.entries += refused;
      if (node in refusals.by || Object.keys(refusals.by).length < HELP_LIMITS.maxNodes) refusals.by[node] = (refusals.by[node] ?? 0) + refused;
      const suppressed = logLimit.take(node);
      if (suppressed !== undefined) hive.log.warn({ node, refused, suppressed }, 'skipped commands of a node: not pairs of strings, too long, or with control characters');
    }
    if (commands.length) out.set(node, commands);
  }));
  return out;
}

export default function help(hive: PluginContext): void {
  const refusals: Refusals = { entries: 0, nodesSkipped: 0, by: {} };
  const logLimit = createLogLimiter();
  hive.details(() => ({ refused_entries: refusals.entries, nodes_skipped: refusals.nodesSkipped, refused_by: { ...refusals.by } }));
  hive.command('help', async (cmd) => {
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
}
