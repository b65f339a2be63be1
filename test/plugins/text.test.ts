// The text plugin through a real tree on the terminal network: each command answers with exactly
// the transformed text (one line, nothing else), which is what an aggregator composes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHive, type TestHive } from '../helpers/hive.js';

let hive: TestHive;
beforeAll(async () => {
  hive = await startHive({
    networks: { console: { type: 'terminal', quiet_ms: 200 } },
    plugins: [{ name: 'text', use: 'text' }],
  });
  // "tree ready" does not wait for the plugins to attach; a line said before that would be missed.
  await hive.waitForLog((l) => l.node === 'text' && l.msg === 'attached to parent');
});
afterAll(async () => { await hive?.stop(); });

/** Says `line` and returns the one line answered (and checks nothing else came). */
async function ask(line: string, expected: string): Promise<void> {
  const mark = hive.stdout.length;
  hive.say(line);
  await hive.expectOutput(expected, { since: mark });
  // Ping the tree with a marker so that any extra line of the first answer would have arrived.
  hive.say('!upper end-of-answer');
  await hive.expectOutput('END-OF-ANSWER', { since: mark });
  expect(hive.stdout.slice(mark)).toEqual([expected, 'END-OF-ANSWER']);
}

describe('text plugin', () => {
  it('reverse keeps surrogate pairs, combined accents and ZWJ emoji whole', async () => {
    await ask('!reverse hello world', 'dlrow olleh');
    await ask('!reverse a😀b', 'b😀a');
    // e + combining acute, a family emoji joined with ZWJ, a flag (two regional indicators).
    await ask('!reverse xe\u0301y', 'ye\u0301x');
    await ask('!reverse 1👨‍👩‍👧2🇫🇷3', '3🇫🇷2👨‍👩‍👧1');
    // Addressed by nick instead of the prefix.
    await ask('hive: reverse abc', 'cba');
  });

  it('rot13 turns Latin letters only and is its own inverse', async () => {
    await ask('!rot13 Hello, World! 123 é', 'Uryyb, Jbeyq! 123 é');
    await ask('!rot13 Uryyb, Jbeyq!', 'Hello, World!');
  });

  it('upper capitalises, also beyond ASCII', async () => {
    await ask('!upper hello élan ß', 'HELLO ÉLAN SS');
  });

  it('without text, answers the usage instead of an empty line', async () => {
    await ask('!reverse', 'usage: !reverse TEXT');
    await ask('!rot13', 'usage: !rot13 TEXT');
    await ask('!upper   ', 'usage: !upper TEXT');
  });
});
