// The notes plugin through real trees. On the terminal network: every command and its error
// replies; a confirmed note survives a kill -9 of the plugin right after the confirmation (and a
// replay of the same message does not add it twice); a corrupt state file is reported and left
// untouched. On ngIRCd with raw clients: notes per channel, private notes per user, and `note del`
// refused to a non-author but allowed to the author and to a holder of notes.delete.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startInspircd, startNgircd, type Ircd } from '../helpers/ircd.js';
import { connectClient, type IrcTestClient } from '../helpers/irc-client.js';
import { startHive, type TestHive } from '../helpers/hive.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { botJoined, exec, expectPrivmsg, ircNetwork, privmsgsFrom } from '../mouth/util.js';

let hive: TestHive | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await hive?.stop();
  hive = undefined;
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

const terminal = { console: { type: 'terminal', quiet_ms: 200 } };
const DATE = '\\d{4}-\\d\\d-\\d\\d';

/** "tree ready" does not wait for the plugins to attach; a line said before that would be missed. */
const attached = (h: TestHive, node: string, times = 1) => waitFor(() => h.logs.filter((l) => l.node === node && l.msg === 'attached to parent').length >= times, { timeout: 15_000, what: `${node} attached` });

/** Says `line` on the terminal; waits for as many lines as `expected` and checks them. */
async function talk(h: TestHive, line: string, expected: (string | RegExp)[]): Promise<string[]> {
  const mark = h.stdout.length;
  h.say(line);
  await waitFor(() => h.stdout.length >= mark + expected.length, { what: `${expected.length} line(s) answering ${line} (got: ${h.stdout.slice(mark).join(' | ')})` });
  const got = h.stdout.slice(mark, mark + expected.length);
  expected.forEach((e, i) => (typeof e === 'string' ? expect(got[i]).toBe(e) : expect(got[i]).toMatch(e)));
  return got;
}

describe('notes on the terminal', () => {
  it('adds, shows, lists (capped), deletes without reusing numbers, and answers every mistake clearly', async () => {
    hive = await startHive({ networks: terminal, plugins: [{ name: 'notes', use: 'notes', config: { list_lines: 3, max_length: 30 } }] });
    await attached(hive, 'notes');
    const h = hive;
    await talk(h, '!notes', ['no notes here yet; add one with !note add TEXT']);
    await talk(h, '!note add buy milk', ['note 1 added']);
    await talk(h, '!note 1', [new RegExp(`^note 1 by you, ${DATE} \\d\\d:\\d\\d UTC: buy milk$`)]);
    await talk(h, '!notes', ['1 note:', new RegExp(`^#1 you, ${DATE}: buy milk$`)]);
    await talk(h, '!note del 1', ['note 1 deleted']);
    await talk(h, '!note 1', ['note 1 was deleted']);
    await talk(h, '!note add after the delete', ['note 2 added']);
    for (const [i, t] of ['three', 'four', 'five'].entries()) await talk(h, `!note add ${t}`, [`note ${i + 3} added`]);
    // Four notes, three lines at most: the count and the newest three.
    await talk(h, '!notes', ['4 notes; the newest 3:', /^#3 you, .*: three$/, /^#4 you, .*: four$/, /^#5 you, .*: five$/]);
    await talk(h, 'hive: note #2', [/^note 2 by you, .* UTC: after the delete$/]);

    await talk(h, '!note 99', ['there is no note 99 here']);
    await talk(h, '!note abc', ["'abc' is not a note number; usage: !note N, !note add TEXT or !note del N"]);
    await talk(h, '!note 0', ["'0' is not a note number; usage: !note N, !note add TEXT or !note del N"]);
    await talk(h, '!note add', ['usage: !note add TEXT (the note cannot be empty)']);
    await talk(h, '!note add this one is far longer than thirty characters', ['that note is too long (45 characters; at most 30)']);
    await talk(h, '!note del', ['usage: !note del N']);
    await talk(h, '!note del two', ["'two' is not a note number; usage: !note del N"]);
    await talk(h, '!note del 42', ['there is no note 42 here']);
    await talk(h, '!note', ['usage: !note add TEXT | !note N | !note del N | !notes']);
    // None of that changed anything.
    await talk(h, '!notes', ['4 notes; the newest 3:', /: three$/, /: four$/, /: five$/]);
  });

  it('a note confirmed a moment before a kill -9 of the plugin is kept, once', async () => {
    hive = await startHive({ networks: terminal, plugins: [{ name: 'notes', use: 'notes' }] });
    await attached(hive, 'notes');
    const h = hive;
    await talk(h, '!note add first', ['note 1 added']);
    const before = await h.node('notes');
    expect(before.state).toBe('running');

    const mark = h.stdout.length;
    h.say('!note add do not lose me');
    await h.expectOutput('note 2 added', { since: mark });
    process.kill(before.pid!, 'SIGKILL');
    // Before any restart (and any replay could re-add it): the note is already in the file.
    const file = join(h.dir, 'state', 'notes', 'notes.json');
    const saved = JSON.parse(await readFile(file, 'utf8')) as { scopes: Record<string, { notes: { n: number; text: string }[] }> };
    expect(Object.values(saved.scopes).flatMap((s) => s.notes).map((n) => [n.n, n.text])).toEqual([[1, 'first'], [2, 'do not lose me']]);

    await waitFor(async () => { const n = await h.node('notes'); return n.state === 'running' && n.pid !== before.pid && n.restarts === 1; }, { timeout: 20_000, what: 'notes restarted' });
    await attached(h, 'notes', 2);
    await talk(h, '!note 2', [/^note 2 by you, .* UTC: do not lose me$/]);
    // If the restarted plugin was replayed the `note add`, it recognised it: no second copy.
    await talk(h, '!notes', ['2 notes:', /: first$/, /: do not lose me$/]);
    await talk(h, '!note add next', ['note 3 added']);
    // The bot confirmed the note once.
    expect(h.stdout.filter((l) => l === 'note 2 added')).toHaveLength(1);
  });

  it('a corrupt state file: a clear error in the log, an error reply, and the file left as it was', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'notes-state-'));
    dirs.push(stateDir);
    const file = join(stateDir, 'notes', 'notes.json');
    await mkdir(join(stateDir, 'notes'), { recursive: true, mode: 0o700 });
    const corrupt = '{"version": 1, "scopes": {"console #console": {"next": 3, "notes": [{"n": 1, "te';
    await writeFile(file, corrupt, { mode: 0o600 });

    hive = await startHive({ state_dir: stateDir, networks: terminal, plugins: [{ name: 'notes', use: 'notes' }] });
    const err = await hive.waitForLog((l) => l.node === 'notes' && l.level === 50 && typeof l.msg === 'string' && l.msg.includes('state file unusable'));
    expect(err.file).toBe(file);
    expect(String(err.reason)).toMatch(/not JSON/);
    await attached(hive, 'notes');

    const unavailable = 'notes are unavailable: their state file is damaged and is left untouched; an operator must repair or move it (see the log)';
    await talk(hive, '!note add must not be written', [unavailable]);
    await talk(hive, '!note 1', [unavailable]);
    await talk(hive, '!notes', [unavailable]);
    expect(await readFile(file, 'utf8')).toBe(corrupt);
    // Each refusal is logged with the file, and the plugin is still the same process.
    // (Logs come through another pipe than the answers: wait for them.)
    await waitFor(() => hive!.logs.filter((l) => l.node === 'notes' && l.msg === 'notes state file unusable; refusing the command and leaving the file as it is' && l.file === file).length === 3, { what: 'three refusals logged' });
    expect((await hive.node('notes')).restarts).toBe(0);
  });
});

describe('notes on ngIRCd', () => {
  let ircd: Ircd;
  const clients: IrcTestClient[] = [];
  beforeAll(async () => { ircd = await startNgircd(); });
  afterAll(async () => {
    for (const c of clients.splice(0)) c.close();
    await ircd?.stop();
  });

  it('per channel and per user, and `note del` only for the author or a holder of notes.delete', async () => {
    const connect = async (nick: string) => {
      const c = await connectClient({ host: ircd.host, port: ircd.port, nick });
      clients.push(c);
      await c.join('#one');
      await c.join('#two');
      return c;
    };
    const [alice, bob, carol] = [await connect('alice'), await connect('bob'), await connect('carol')];
    hive = await startHive({
      networks: { net: ircNetwork(ircd, { channels: ['#one', '#two'] }) },
      plugins: [
        // Stands in for the auth filter: carol may delete anyone's notes.
        { name: 'grant', exec: exec('grant'), config: { grants: { carol: ['notes.delete'] } } },
        { name: 'notes', use: 'notes', parent: 'grant' },
      ],
    });
    await botJoined(alice, 'hivebot', '#one');
    await botJoined(alice, 'hivebot', '#two');
    await attached(hive, 'notes');

    /**
     * `who` says `text` to `where` and waits for the bot's answer there (or in private). The others
     * in the channel see answers to each other too, so the answer is waited for by its text; a
     * wrong one shows in the timeout's list of last lines.
     */
    const say = async (who: IrcTestClient, where: string, text: string, answer: string | RegExp) => {
      const since = who.mark();
      who.say(where, text);
      await expectPrivmsg(who, 'hivebot', where.startsWith('#') ? where : who.nick, answer, { since });
    };

    // Each channel numbers its own notes.
    await say(alice, '#one', '!note add in one', 'note 1 added');
    await say(bob, '#two', '!note add in two', 'note 1 added');
    await say(alice, '#one', '!note add also in one', 'note 2 added');
    await say(bob, '#one', '!note 1', /^note 1 by alice, .* UTC: in one$/);
    await say(alice, '#two', '!note 1', /^note 1 by bob, .* UTC: in two$/);
    await say(alice, '#two', '!note 2', 'there is no note 2 here');

    // In a private message (no prefix needed), the notes are the user's own.
    await say(alice, 'hivebot', 'note add my own', 'note 1 added');
    await say(bob, 'hivebot', 'note 1', 'there is no note 1 here');
    await say(alice, 'hivebot', 'note 1', /^note 1 by alice, .* UTC: my own$/);

    // bob may not delete alice's note; the note stays.
    await say(bob, '#one', '!note del 1', 'you cannot delete note 1: only its author (alice) or someone with the notes.delete capability can');
    await say(bob, '#one', '!note 1', /^note 1 by alice, .*: in one$/);
    // carol holds notes.delete; alice is the author.
    await say(carol, '#one', '!note del 2', 'note 2 deleted');
    await say(alice, '#one', '!note del 1', 'note 1 deleted');
    await say(bob, '#one', '!notes', 'no notes here yet; add one with !note add TEXT');
    // #two is untouched.
    await say(carol, '#two', '!notes', '1 note:');
    await sleep(200);
    expect(privmsgsFrom(carol, 'hivebot', '#two').map((l) => l.params[1]).slice(-2)).toEqual(['1 note:', expect.stringMatching(/^#1 bob, .*: in two$/)]);
  });
});

describe('notes with services accounts (InspIRCd + Atheme)', () => {
  const ALICE = { name: 'alice', password: 'alice-secret-1' };
  let ircd: Ircd;
  const clients: IrcTestClient[] = [];
  beforeAll(async () => { ircd = await startInspircd({ accounts: [ALICE] }); });
  afterAll(async () => {
    for (const c of clients.splice(0)) c.close();
    await ircd?.stop();
  });

  it('an author logged in to an account is known by it: her nick is not enough, her account under another nick is', async () => {
    const connect = async (nick: string, sasl?: typeof ALICE) => {
      const c = await connectClient({ host: ircd.host, port: ircd.port, nick, sasl: sasl && { account: sasl.name, password: sasl.password } });
      clients.push(c);
      await c.join('#one');
      return c;
    };
    const alice = await connect('alice', ALICE);
    const bob = await connect('bob');
    hive = await startHive({ networks: { net: ircNetwork(ircd) }, plugins: [{ name: 'notes', use: 'notes' }] });
    await botJoined(alice, 'hivebot', '#one');
    await attached(hive, 'notes');
    const say = async (who: IrcTestClient, text: string, answer: string | RegExp) => {
      const since = who.mark();
      who.say('#one', text);
      await expectPrivmsg(who, 'hivebot', '#one', answer, { since });
    };

    await say(alice, '!note add signed by my account', 'note 1 added');
    await alice.quit();
    // bob takes the nick alice, but not her account.
    const since = bob.mark();
    bob.send('NICK alice');
    await bob.waitFor((l) => l.command === 'NICK' && l.params[0] === 'alice', { since });
    await say(bob, '!note del 1', 'you cannot delete note 1: only its author (alice, logged in as alice) or someone with the notes.delete capability can');
    // alice, back under another nick and logged in to her account, may.
    const alicia = await connect('alicia', ALICE);
    await say(alicia, '!note del 1', 'note 1 deleted');
  });
});
