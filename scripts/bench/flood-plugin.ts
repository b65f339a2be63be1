// Benchmark plugin: `flood N` sends N separate one-line messages at once (to see the bucket at work).
import { runPlugin } from '../../protocol/sdk/run.js';

await runPlugin({ name: 'flood', kind: 'automaton', commands: { flood: { help: 'flood N — says N lines' } } }, (hive) => {
  hive.command('flood', async (cmd) => {
    const n = Math.min(Number(cmd.args) || 1, 1000);
    await Promise.all(Array.from({ length: n }, (_, i) => hive.say(cmd.network, cmd.replyTo, `flood ${i + 1}`)));
  });
});
