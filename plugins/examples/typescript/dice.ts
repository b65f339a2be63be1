// --8<-- [start:whole]
/**
 * dice: a first plugin in TypeScript. `!roll 2d6` → `alice rolled 7 (3 + 4)`.
 * Run it with `exec: [node, dist/plugins/run.js, dist/plugins/examples/typescript/dice.js]`.
 */
import { c, definePlugin } from 'hive/sdk';

// The plugin's `config:` from the hive config, checked before the plugin starts.
const config = c.object({ max_dice: c.number().int().min(1).max(100).default(10) }).strict();

export default definePlugin({ name: 'dice', kind: 'responder', config }, (hive) => {
  const { max_dice } = hive.config; // a number from 1 to 100, as the schema says
  // One declaration per command: what `!help` says about it, an example, and the handler.
  hive.command('roll', { help: 'roll NdM — rolls N dice of M sides', examples: [['!roll 2d6', 'alice rolled 7 (3 + 4)']] }, (cmd) => {
    const m = /^(\d*)d(\d+)$/i.exec(cmd.args);
    if (!m) return cmd.reply('usage: roll NdM, e.g. roll 2d6');
    const n = Number(m[1] || 1), sides = Number(m[2]);
    if (n < 1 || n > max_dice || sides < 2 || sides > 1000) return cmd.reply(`roll: 1 to ${max_dice} dice of 2 to 1000 sides`);
    const rolls = Array.from({ length: n }, () => 1 + Math.floor(Math.random() * sides));
    const total = rolls.reduce((a, b) => a + b, 0);
    return cmd.reply(`${cmd.nick} rolled ${total}${n > 1 ? ` (${rolls.join(' + ')})` : ''}`);
  });
});
// --8<-- [end:whole]
