/**
 * help: lists every command of every node in the live tree, grouped by plugin; `help CMD` gives
 * its line. It asks the bus for the hive's nodes each time, so a plugin loaded at runtime shows
 * up without a restart.
 */
import type { Manifest, PluginContext } from '../../protocol/sdk/index.js';
import { NODE_INTERFACE, NODE_PATH } from '../../protocol/names.js';
import { callBus, callWithDeadline } from '../../protocol/sdk/bus.js';

export const manifest: Manifest = {
  name: 'help',
  kind: 'responder',
  commands: { help: { help: 'help [COMMAND] — lists the commands of every plugin, or explains one', examples: [['!help ping', 'ping — answers pong']] } },
};

async function liveCommands(hive: PluginContext): Promise<Map<string, [string, string][]>> {
  const prefix = hive.node.busName.slice(0, hive.node.busName.length - hive.name.length);
  const names = ((await callBus(hive.node.bus, 'ListNames', '', [])).body[0] as string[]).filter((n) => n.startsWith(prefix) && !n.endsWith('.Supervisor'));
  const out = new Map<string, [string, string][]>();
  await Promise.all(names.sort().map(async (busName) => {
    try {
      const reply = await callWithDeadline(hive.node.bus, { destination: busName, path: NODE_PATH, interface: 'org.freedesktop.DBus.Properties', member: 'Get', signature: 'ss', body: [NODE_INTERFACE, 'Commands'] }, 1000);
      const cmds = reply.body[0].value as [string, string][];
      if (cmds.length) out.set(busName.slice(prefix.length), cmds);
    } catch (err) {
      hive.log.debug({ err, busName }, 'node did not answer for its commands');
    }
  }));
  return out;
}

export default function help(hive: PluginContext): void {
  hive.command('help', async (cmd) => {
    const all = await liveCommands(hive);
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
