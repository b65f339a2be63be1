// The help plugin through a real tree on the terminal network: it lists the commands of every
// node (also one below a filter), grouped by node; `help CMD` gives that command's line; a plugin
// loaded at runtime with `hive load` is listed without restarting anything, and gone once unloaded.
import { afterEach, describe, expect, it } from 'vitest';
import { startHive, type TestHive } from '../helpers/hive.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { exec } from '../mouth/util.js';

let hive: TestHive | undefined;
afterEach(async () => {
  await hive?.stop();
  hive = undefined;
});

/** Says `line`; waits for `count` lines of answer and returns them. */
async function answer(h: TestHive, line: string, count: number): Promise<string[]> {
  const mark = h.stdout.length;
  h.say(line);
  await waitFor(() => h.stdout.length >= mark + count, { what: `${count} line(s) answering ${line} (got: ${h.stdout.slice(mark).join(' | ')})` });
  // Anything beyond `count` would be a wrong answer too: give it a moment to show.
  await sleep(300);
  return h.stdout.slice(mark);
}

describe('help plugin', () => {
  it('lists every node\'s commands, explains one, and sees plugins loaded and unloaded at runtime', async () => {
    hive = await startHive({
      networks: { console: { type: 'terminal', quiet_ms: 200 } },
      plugins: [
        { name: 'help', use: 'help' },
        { name: 'ping', use: 'ping' },
        { name: 'notes', use: 'notes' },
        // A plugin deeper in the tree, under a filter, is listed too.
        { name: 'relay', exec: exec('passthrough') },
        { name: 'words', use: 'text', parent: 'relay' },
      ],
    });
    await waitFor(() => ['help', 'ping', 'notes', 'words'].every((n) => hive!.logs.some((l) => l.node === n && l.msg === 'attached to parent')), { timeout: 15_000, what: 'plugins attached' });
    const h = hive;

    expect(await answer(h, '!help', 4)).toEqual([
      'help: !help',
      'notes: !note add, !note, !note del, !notes',
      'ping: !ping',
      'words: !reverse, !rot13, !upper',
    ]);

    expect(await answer(h, '!help ping', 1)).toEqual(['ping — answers pong']);
    expect(await answer(h, '!help !rot13', 1)).toEqual(['rot13 TEXT — TEXT with each Latin letter moved 13 places (again to decode)']);
    expect(await answer(h, 'hive: help note add', 1)).toEqual(['note add TEXT — keeps TEXT as a note of this channel and says its number']);
    expect(await answer(h, '!help NOTE', 1)).toEqual(['note N — shows note N with its author and date']);
    expect(await answer(h, '!help seen', 1)).toEqual(["no command 'seen'; say !help for the list"]);

    // Loaded at runtime: help asks the live bus, nothing is restarted.
    const helpPid = (await h.node('help')).pid;
    const r = await h.cli('load', '--name', 'seen', '--use', 'seen', '--config', h.configFile);
    expect(r.exitCode, r.stderr).toBe(0);
    await waitFor(async () => (await h.node('seen')).state === 'running', { timeout: 15_000, what: 'seen running' });
    await waitFor(async () => (await answer(h, '!help seen', 1))[0] === 'seen NICK — when NICK last spoke, where, and what', { timeout: 15_000, what: 'help seen' });
    expect(await answer(h, '!help', 5)).toEqual([
      'help: !help',
      'notes: !note add, !note, !note del, !notes',
      'ping: !ping',
      'seen: !seen',
      'words: !reverse, !rot13, !upper',
    ]);

    expect((await h.cli('unload', 'seen', '--config', h.configFile)).exitCode).toBe(0);
    await waitFor(async () => (await answer(h, '!help seen', 1))[0] === "no command 'seen'; say !help for the list", { timeout: 15_000, what: 'seen gone from help' });
    expect(await answer(h, '!help', 4)).not.toContain('seen: !seen');
    expect((await h.node('help')).pid).toBe(helpPid);
  });
});
