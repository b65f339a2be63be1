// The compose aggregator in a real tree: mouth → compose → {text, echo, ping, slow}, plus a
// responder `q` beside compose (not under it). compose asks its children with hive.ask, answers
// nested [commands] in their commands, and keeps them from seeing such a line themselves.
// One test on ngIRCd with another command prefix, addressing by nick and a private message.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHive, type TestHive } from '../helpers/hive.js';
import { DIST } from '../helpers/paths.js';
import { startNgircd, type Ircd } from '../helpers/ircd.js';
import { connectClient, type IrcTestClient } from '../helpers/irc-client.js';
import { botJoined, exec, expectPrivmsg, ircNetwork, privmsgsFrom } from '../mouth/util.js';

const slowExample = ['node', join(DIST, 'plugins/run.js'), join(DIST, 'plugins/compose/slow-example.js')];
const SLOW_DELAY_MS = 4500; // longer than compose's default timeout of 3 s

/** compose's log line listing what its subtree answers, once it lists all of `want`. */
function subtreeKnows(hive: TestHive, want: string[], timeout = 30_000) {
  return hive.waitForLog((l) => l.node === 'compose' && l.msg === 'subtree commands'
    && want.every((w) => (l.commands as string[]).includes(w)), timeout);
}

let hive: TestHive;
let marks = 0;

beforeAll(async () => {
  hive = await startHive({
    networks: { console: { type: 'terminal', quiet_ms: 200 } },
    plugins: [
      { name: 'compose', use: 'compose' },
      { name: 'text', use: 'text', parent: 'compose' },
      { name: 'echo', use: 'echo', parent: 'compose' },
      { name: 'ping', use: 'ping', parent: 'compose' },
      { name: 'slow', exec: slowExample, parent: 'compose', config: { delay_ms: SLOW_DELAY_MS } },
      { name: 'q', exec: exec('responder'), config: { command: 'q' } },
    ],
  });
  await subtreeKnows(hive, ['reverse', 'rot13', 'upper', 'echo', 'ping', 'slow']);
  await hive.waitForLog((l) => l.node === 'q' && l.msg === 'attached to parent', 30_000);
}, 60_000);
afterAll(async () => { await hive?.stop(); });

/**
 * Says `line`, waits for the `expected` lines, then for a marker answered by echo through compose,
 * and checks that exactly `expected` came before it: nothing extra, nothing twice.
 */
async function exchange(line: string, expected: string[], timeout = 15_000): Promise<void> {
  const since = hive.stdout.length;
  hive.say(line);
  for (const e of expected) await hive.expectOutput(e, { since, timeout });
  const marker = `marker-${++marks}`;
  hive.say(`!echo ${marker}`);
  await hive.expectOutput(marker, { since, timeout });
  expect(hive.stdout.slice(since)).toEqual([...expected, marker]);
}

describe('compose', () => {
  it('composes one, two and three stages, inner-most first', async () => {
    await exchange('!compose reverse hello', ['olleh']);
    // rot13(hello) = uryyb, reversed: byyru
    await exchange('!compose reverse rot13 hello', ['byyru']);
    await exchange('!compose upper reverse rot13 hello world', ['QYEBJ BYYRU']);
    // The first word that is not a command starts the text, spacing kept; ping ignores its text.
    await exchange('!compose reverse hello  upper', ['reppu  olleh']);
    await exchange('!compose upper ping', ['compose: nothing to compose: put a text after the commands (!compose CMD [CMD...] TEXT)']);
    await exchange('!compose upper ping now', ['PONG']);
    // Addressed by nick works the same.
    await exchange('hive: compose upper reverse abc', ['CBA']);
  });

  it('answers unknown commands, a missing text and too many stages clearly', async () => {
    await exchange('!compose frob hello', ["compose: no plugin here answers 'frob'"]);
    // q is answered beside compose, not under it: compose cannot use it.
    await exchange('!compose q hello', ["compose: no plugin here answers 'q'"]);
    await exchange('!compose', ['compose: usage: !compose CMD [CMD...] TEXT']);
    await exchange('!compose reverse rot13', ['compose: nothing to compose: put a text after the commands (!compose CMD [CMD...] TEXT)']);
    await exchange(`!compose ${'reverse '.repeat(11)}x`, ['compose: too many commands in one request (11, at most 10)']);
    await exchange(`!compose ${'reverse '.repeat(10)}x`, ['x']);
  });

  it('answers nested commands at depth 1, 2 and 3, once, without the literal answer', async () => {
    // Without compose dropping it, echo would also say "[reverse hello]".
    await exchange('!echo [reverse hello]', ['olleh']);
    await exchange('!echo [upper [reverse abc]]', ['CBA']);
    // rot13(abc) = nop, reversed pon, upper PON
    await exchange('!echo x [upper [reverse [rot13 abc]]] y', ['x PON y']);
    // Two groups side by side, and a group that makes the command word.
    await exchange('!echo [reverse ab] and [upper cd]', ['ba and CD']);
    await exchange('![echo reverse] abc', ['cba']);
    await exchange('hive: upper [reverse abc] d', ['CBA D']);
    // Inside compose's own text as well.
    await exchange('!compose reverse [upper abc] d', ['d CBA']);
  });

  it('reads escaped brackets literally, and refuses unbalanced or unknown ones', async () => {
    await exchange('!echo \\[not a command\\]', ['[not a command]']);
    await exchange('!echo \\[x\\] [reverse yz] \\\\', ['[x] zy \\']);
    await exchange('!echo [reverse hello', ["compose: unbalanced brackets: 1 '[' never closed; write \\[ for a literal one"]);
    await exchange('!echo reverse] hello', ["compose: unbalanced brackets: a ']' without its '[' (character 13); write \\] for a literal one"]);
    await exchange('!echo [frob x]', ["compose: no plugin here answers 'frob'"]);
    await exchange('!echo [] x', ['compose: empty brackets []: put a command inside, or write \\[\\] for literal ones']);
    // Plain commands pass compose unchanged, and so does a bracketed command none of its subtree
    // knows: q (beside compose) answers it literally, compose says nothing.
    await exchange('!echo plain', ['plain']);
    await exchange('!q [reverse x]', ['q:[reverse x]']);
  });

  it('replies when a child does not answer in time, drops its late answer, and keeps working', async () => {
    const since = hive.stdout.length;
    hive.say('!compose reverse slow hello');
    hive.say('!echo [slow abc] x');
    await hive.expectOutput("compose: 'slow' did not answer within 3s", { since, timeout: 20_000 });
    // Both requests time out; the slow child answers later, and compose drops those answers.
    await waitForCount(hive, since, "compose: 'slow' did not answer within 3s", 2);
    await hive.waitForLog((l) => l.node === 'slow' && l.msg === 'slow answered' && l.text === 'hello', 20_000);
    await hive.waitForLog((l) => l.node === 'slow' && l.msg === 'slow answered' && l.text === 'abc', 20_000);
    await hive.waitForLog((l) => l.node === 'compose' && l.msg === 'late answer to a finished query dropped', 20_000);
    await exchange('!compose reverse hello', ['olleh']);
    expect(hive.stdout.slice(since).filter((l) => l.includes('slow:'))).toEqual([]);
    expect(hive.stdout.slice(since).filter((l) => l.startsWith('compose:'))).toHaveLength(2);
    // slow only ever saw compose's queries, never the lines the user typed.
    const asked = hive.logs.filter((l) => l.node === 'slow' && l.msg === 'slow asked');
    expect(asked.map((l) => [l.text, l.query])).toEqual([['hello', true], ['abc', true]]);
    await exchange('!echo [upper [reverse abc]]', ['CBA']);
  }, 60_000);

  it('learns the commands of a plugin loaded under it at runtime', async () => {
    const r = await hive.cli('load', '--name', 'shout', '--exec', `node ${join(DIST, 'test/fixtures/responder.js')}`, '--parent', 'compose',
      '--plugin-config', JSON.stringify({ command: 'shout' }), '--config', hive.configFile);
    expect(r.exitCode, r.stderr).toBe(0);
    await subtreeKnows(hive, ['shout', 'reverse']);
    await exchange('!compose shout reverse abc', ['shout:cba']);
    await exchange('!echo [shout [upper x]]', ['shout:X']);
  }, 60_000);
});

async function waitForCount(h: TestHive, since: number, line: string, n: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (h.stdout.slice(since).filter((l) => l === line).length < n) {
    if (Date.now() > deadline) throw new Error(`expected ${n} × ${line}; got ${h.stdout.slice(since).join(' | ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('compose on ngIRCd with the prefix ~', () => {
  let ircd: Ircd;
  let irc: TestHive;
  let alice: IrcTestClient;

  beforeAll(async () => {
    ircd = await startNgircd();
    alice = await connectClient({ host: ircd.host, port: ircd.port, nick: 'alice' });
    await alice.join('#one');
    irc = await startHive({
      command_prefix: '~',
      networks: { net: ircNetwork(ircd, { nick: 'hivebot', channels: ['#one'] }) },
      plugins: [
        { name: 'compose', use: 'compose', config: { timeout: 5 } },
        { name: 'text', use: 'text', parent: 'compose' },
        { name: 'echo', use: 'echo', parent: 'compose' },
      ],
    });
    await botJoined(alice, 'hivebot', '#one', { timeout: 30_000 });
    await subtreeKnows(irc, ['reverse', 'echo']);
  }, 90_000);
  afterAll(async () => {
    alice?.close();
    await irc?.stop();
    await ircd?.stop();
  });

  it('answers composed and nested commands in a channel and in private, exactly once', async () => {
    const since = alice.mark();
    alice.say('#one', '~compose reverse rot13 hello');
    await expectPrivmsg(alice, 'hivebot', '#one', 'byyru', { since, timeout: 20_000 });
    alice.say('#one', 'hivebot: echo [upper [reverse abc]]');
    await expectPrivmsg(alice, 'hivebot', '#one', 'CBA', { since, timeout: 20_000 });
    alice.say('#one', 'hivebot, echo \\[literal\\]');
    await expectPrivmsg(alice, 'hivebot', '#one', '[literal]', { since, timeout: 20_000 });
    // Not a command: ordinary talk with brackets, and the wrong prefix.
    alice.say('#one', 'echo [reverse nothing]');
    alice.say('#one', '!echo [reverse nothing]');
    alice.say('hivebot', 'echo [reverse hi]');
    await expectPrivmsg(alice, 'hivebot', 'alice', 'ih', { since, timeout: 20_000 });
    alice.say('#one', '~echo end');
    await expectPrivmsg(alice, 'hivebot', '#one', 'end', { since, timeout: 20_000 });
    expect(privmsgsFrom(alice, 'hivebot', '#one', since).map((l) => l.params[1])).toEqual(['byyru', 'CBA', '[literal]', 'end']);
    expect(privmsgsFrom(alice, 'hivebot', 'alice', since).map((l) => l.params[1])).toEqual(['ih']);
  }, 60_000);
});
