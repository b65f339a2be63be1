// The help plugin through a real tree on the terminal network: it lists the commands of every
// node (also one below a filter), grouped by node; `help CMD` gives that command's line; a plugin
// loaded at runtime with `hive load` is listed without restarting anything, and gone once unloaded.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { startHive, type TestHive } from '../helpers/hive.js';
import { NODE_INTERFACE, NODE_PATH, nodeBusName } from '../../protocol/names.js';
import { NODE1 } from '../../protocol/node1.js';
import { callWithDeadline, connectBus } from '../../protocol/sdk/bus.js';
import { serveObject } from '../../protocol/sdk/service.js';
import { HELP_LIMITS, checkCommands } from '../../protocol/sdk/tree-commands.js';
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

describe('help and what other nodes publish', () => {
  it('checks each Commands entry: pairs of bounded strings without control characters; the rest skipped and counted', () => {
    const good: [string, string] = ['note add', 'note add TEXT — keeps TEXT'];
    expect(checkCommands([good])).toEqual({ commands: [good], refused: 0 });
    expect(checkCommands([
      good,
      ['x\r\nPRIVMSG #c :pwned', 'fine'],
      ['ok', 'help with a\nnewline'],
      ['ok', 'bold \x02 text'],
      ['c1', 'next line \u0085 here'],
      ['', 'empty name'],
      [' lead', 'spaces around'],
      ['n'.repeat(HELP_LIMITS.maxNameChars + 1), 'too long a name'],
      ['long', 'h'.repeat(HELP_LIMITS.maxHelpChars + 1)],
      ['three', 'parts', 'here'],
      'not a pair',
      [1, 2],
    ])).toEqual({ commands: [good], refused: 11 });
    expect(checkCommands('not a list')).toEqual({ commands: [], refused: 1 });
    const many = Array.from({ length: HELP_LIMITS.maxCommandsPerNode + 10 }, (_, i) => [`c${i}`, `c${i} — help`]);
    const r = checkCommands(many);
    expect(r.commands.length).toBe(HELP_LIMITS.maxCommandsPerNode);
    expect(r.refused).toBe(10);
  });

  it('one node whose Commands hold CR/LF does not break !help for everyone: its bad entries are skipped and counted', async () => {
    hive = await startHive({
      networks: { console: { type: 'terminal', quiet_ms: 200 } },
      plugins: [{ name: 'help', use: 'help' }, { name: 'ping', use: 'ping' }],
    });
    await waitFor(() => ['help', 'ping'].every((n) => hive!.logs.some((l) => l.node === n && l.msg === 'attached to parent')), { timeout: 15_000, what: 'plugins attached' });
    // Any process on the bus may own a node name and publish what it likes as its Commands.
    const runtime = JSON.parse(await readFile(join(hive.dir, 'run', `${hive.instance}.json`), 'utf8')) as { bus_address: string };
    const bus = await connectBus(runtime.bus_address);
    try {
      serveObject(bus, {
        path: NODE_PATH, spec: NODE1, log: pino({ level: 'silent' }), methods: {},
        properties: () => ({
          Name: 'evil', Kind: 'responder', Parent: '', Children: [], Counters: {}, Details: {},
          Commands: [['x\r\nPRIVMSG #console :pwned', 'x'], ['evil', 'evil — help\r\nQUIT :bye'], ['fine', 'fine — a good one']],
        }),
      });
      expect(await bus.requestName(nodeBusName(hive.instance, 'evil'), 0x4)).toBe(1);
      expect(await answer(hive, '!help', 3)).toEqual(['evil: !fine', 'help: !help', 'ping: !ping']);
      expect(await answer(hive, '!help evil', 1)).toEqual(["no command 'evil'; say !help for the list"]);
      expect(await answer(hive, '!help fine', 1)).toEqual(['fine — a good one']);
      expect(hive.stdout.join('\n')).not.toContain('pwned');
      await hive.waitForLog((l) => l.node === 'help' && l.msg === 'skipped commands of a node: not pairs of strings, too long, or with control characters' && l.refused === 2);
      // Counted in help's Details.
      const reply = await callWithDeadline(bus, { destination: nodeBusName(hive.instance, 'help'), path: NODE_PATH, interface: 'org.freedesktop.DBus.Properties', member: 'Get', signature: 'ss', body: [NODE_INTERFACE, 'Details'] }, 5000);
      const details = (reply.body[0] as { value: Record<string, { value: unknown }> }).value;
      expect(Number(details.refused_entries!.value)).toBeGreaterThanOrEqual(2);
      expect(Number((details.refused_by!.value as Record<string, unknown>).evil)).toBeGreaterThanOrEqual(2);
    } finally {
      bus.disconnect();
    }
  });
});
