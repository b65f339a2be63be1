// The seen plugin through real trees: on ngIRCd with raw clients (channels, actions, private
// messages kept private, IRC casefolding, the size bound, another network named), and on the
// terminal network (answers about oneself / the bot / an unknown nick; state kept across a whole
// restart of the hive, where no replay can help).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNgircd, type Ircd } from '../helpers/ircd.js';
import { connectClient, type IrcTestClient } from '../helpers/irc-client.js';
import { startHive, type TestHive } from '../helpers/hive.js';
import { waitFor } from '../helpers/wait.js';
import { botJoined, expectPrivmsg, ircNetwork } from '../mouth/util.js';

let ircd: Ircd;
let hive: TestHive | undefined;
const clients: IrcTestClient[] = [];
const dirs: string[] = [];

beforeAll(async () => { ircd = await startNgircd(); });
afterAll(async () => { await ircd?.stop(); });
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await hive?.stop();
  hive = undefined;
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function client(nick: string, channels: string[]): Promise<IrcTestClient> {
  const c = await connectClient({ host: ircd.host, port: ircd.port, nick, user: nick.replace(/\W/g, '') });
  clients.push(c);
  for (const ch of channels) await c.join(ch);
  return c;
}

const recent = '(just now|\\d+s ago)';

/** "tree ready" does not wait for the plugins to attach; a line said before that would be missed. */
const attached = (h: TestHive, node: string) => h.waitForLog((l) => l.node === node && l.msg === 'attached to parent');

/** bob asks in #one and gets exactly one answer. */
async function ask(bob: IrcTestClient, question: string, answer: RegExp): Promise<string> {
  const since = bob.mark();
  bob.say('#one', question);
  const l = await expectPrivmsg(bob, 'hivebot', '#one', /./, { since });
  expect(l.params[1]).toMatch(answer);
  return l.params[1]!;
}

describe('seen on ngIRCd', () => {
  it('tells when, where and what; actions; private messages stay private; casefolding; other networks named', async () => {
    const alice = await client('alice', ['#one', '#two']);
    const bob = await client('bob', ['#one']);
    const dan = await client('[Dan]', ['#two']);
    hive = await startHive({
      networks: {
        net: ircNetwork(ircd, { channels: ['#one', '#two'] }),
        console: { type: 'terminal', quiet_ms: 200 },
      },
      plugins: [{ name: 'seen', use: 'seen', config: { flush_ms: 100 } }],
    });
    await attached(hive, 'seen');
    await botJoined(alice, 'hivebot', '#one');
    await botJoined(alice, 'hivebot', '#two');

    // A line and bob's question come from two sockets, and the server may pass bob's first: before
    // asking, wait until someone else in the channel got the line, so the bot has it too.
    let relayed = dan.mark();
    alice.say('#two', 'first words');
    await dan.waitFor((l) => l.command === 'PRIVMSG' && l.nick === 'alice' && l.params[1] === 'first words', { since: relayed });
    await ask(bob, '!seen alice', new RegExp(`^alice was last seen ${recent} in #two saying: first words$`));

    relayed = bob.mark();
    alice.say('#one', '\x01ACTION waves\x01');
    await bob.waitFor((l) => l.command === 'PRIVMSG' && l.nick === 'alice' && l.params[1] === '\x01ACTION waves\x01', { since: relayed });
    // Case-insensitive, and a trailing question mark is fine.
    await ask(bob, '!seen ALICE?', new RegExp(`^alice was last seen ${recent} in #one: \\* alice waves$`));

    // rfc1459 casefolding: [ ] fold to { }.
    relayed = alice.mark();
    dan.say('#two', 'brackets');
    await alice.waitFor((l) => l.command === 'PRIVMSG' && l.nick === '[Dan]' && l.params[1] === 'brackets', { since: relayed });
    await ask(bob, 'hivebot: seen {dAN}', new RegExp(`^\\[Dan\\] was last seen ${recent} in #two saying: brackets$`));

    // A private message to the bot: where, but never what.
    alice.say('hivebot', 'my secret is swordfish');
    const pm = await ask(bob, '!seen alice', new RegExp(`^alice was last seen ${recent} in a private message$`));
    expect(pm).not.toContain('swordfish');
    // Nor is it written to disk.
    const file = join(hive.dir, 'state', 'seen', 'seen.json');
    const saved = await waitFor(async () => {
      const text = await readFile(file, 'utf8').catch(() => '');
      return text.includes('"bob"') && text.includes('"target": null') ? text : undefined;
    }, { what: 'seen.json with the private message entry' });
    expect(saved).not.toContain('swordfish');

    // Across networks (the terminal is another one), the network is named, both ways. The
    // terminal's answer also tells that its line has been handled before bob asks.
    hive.say('!seen alice');
    await hive.expectOutput(new RegExp(`^alice was last seen ${recent} in a private message on net$`));
    await ask(bob, '!seen you', new RegExp(`^you was last seen ${recent} in #console on console saying: !seen alice$`));

    await ask(bob, '!seen hivebot', /^I'm right here!$/);
    await ask(bob, '!seen Bob', /^bob, that's you!$/);
    await ask(bob, '!seen nobody', /^I haven't seen nobody\.$/);
    await ask(bob, '!seen', /^usage: !seen NICK$/);
    await ask(bob, '!seen #two', /^usage: !seen NICK$/);
  });

  it('keeps at most max_nicks entries, dropping the one silent the longest', async () => {
    const alice = await client('alice', ['#one']);
    const carol = await client('carol', ['#one']);
    const bob = await client('bob', ['#one']);
    hive = await startHive({
      networks: { net: ircNetwork(ircd) },
      plugins: [{ name: 'seen', use: 'seen', config: { max_nicks: 2 } }],
    });
    await attached(hive, 'seen');
    await botJoined(alice, 'hivebot', '#one');
    alice.say('#one', 'I was first');
    // bob's own question counts as speaking: after carol and bob, alice is the one dropped.
    await ask(bob, '!seen alice', new RegExp(`^alice was last seen ${recent} in #one saying: I was first$`));
    carol.say('#one', 'me too');
    await ask(bob, '!seen carol', new RegExp(`^carol was last seen ${recent} in #one saying: me too$`));
    await ask(bob, '!seen alice', /^I haven't seen alice\.$/);
  });
});

describe('seen on the terminal', () => {
  it('keeps what it saw across a restart of the whole hive (saved on an orderly stop)', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'seen-state-'));
    dirs.push(stateDir);
    // First hive: alice talks. flush_ms is long, so only the save on stop can keep it.
    hive = await startHive({
      state_dir: stateDir,
      networks: { console: { type: 'terminal', quiet_ms: 200, user: 'alice' } },
      plugins: [{ name: 'seen', use: 'seen', config: { flush_ms: 60_000 } }],
    });
    await attached(hive, 'seen');
    hive.say('remember me');
    hive.say('!seen alice');
    await hive.expectOutput('alice, that\'s you!');
    hive.say('!seen hive');
    await hive.expectOutput('I\'m right here!');
    await hive.stop();

    // Second hive, same state folder, a fresh mouth (nothing to replay): bob asks.
    hive = await startHive({
      state_dir: stateDir,
      networks: { console: { type: 'terminal', quiet_ms: 200, user: 'bob' } },
      plugins: [{ name: 'seen', use: 'seen' }],
    });
    await attached(hive, 'seen');
    hive.say('!seen Alice');
    // Her last line was her question about the bot.
    const line = await hive.expectOutput(/^alice was last seen/);
    expect(line).toMatch(/^alice was last seen (just now|\d+s ago) in #console saying: !seen hive$/);
    hive.say('!seen carol');
    await hive.expectOutput('I haven\'t seen carol.');
  });
});
