// A filter for resent-once.test.ts (plain JS beside it, run from the build): a child's message that
// says "hang" is passed up and the child never answered, one that says "hold" is neither passed up
// nor answered. Killed then, the filter leaves the child's Send pending: the chaos test's kill of
// f1 after it passed b's answer on (hang) or before (hold).
import { runPlugin } from '../../dist/protocol/sdk/run.js';

const never = () => new Promise(() => undefined);

await runPlugin({ name: 'hanging-filter', kind: 'filter' }, (hive) => {
  hive.filter({
    up: async (msg) => {
      const text = msg.lines.map((l) => l.toString()).join('\n');
      if (text.includes('hold')) { hive.log.info({ id: msg.meta['hive.id'] }, 'holding; not passing up'); return never(); }
      if (!text.includes('hang')) return msg;
      await hive.send(msg);
      hive.log.info({ id: msg.meta['hive.id'] }, 'passed up; not answering the child');
      return never();
    },
  });
});
