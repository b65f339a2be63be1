/** The HiveMessage the benchmarks send: one PRIVMSG line with the metadata the mouth sets. */
import type { HiveMessage } from '../../protocol/hive-message.js';

const line = Buffer.from(':alice!alice@client.example.org PRIVMSG #bench :the quick brown fox jumps over the lazy dog, again and again');
const base = Date.now() * 1000;

export function typicalMessage(i: number): HiveMessage {
  return {
    lines: [line],
    meta: {
      'hive.id': `mouth-bench-${i}`,
      'hive.network': 'bench',
      'hive.seq': base + i,
      'hive.time': Date.now(),
      'hive.nick': 'hive',
      'hive.event': 'line',
    },
  };
}
