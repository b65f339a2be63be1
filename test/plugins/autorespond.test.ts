// autorespond in a real tree on ngIRCd: the mouth, the grant fixture (standing in for auth: alice
// holds autorespond.edit, bob holds nothing) and the plugin under it, seen from raw IRC clients.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNgircd, type Ircd } from '../helpers/ircd.js';
import { connectClient, type IrcTestClient } from '../helpers/irc-client.js';
import { startHive, type TestHive } from '../helpers/hive.js';
import { waitFor } from '../helpers/wait.js';
import { botJoined, exec, expectPrivmsg, ircNetwork, logsOf, privmsgsFrom, waitForNodeLog } from '../mouth/util.js';

let ircd: Ircd;
let hive: TestHive;
let alice: IrcTestClient;
let bob: IrcTestClient;
const CHANNELS = ['#one', '#two', '#three', '#four', '#five', '#six', '#seven'];

beforeAll(async () => {
  ircd = await startNgircd();
  alice = await connectClient({ host: ircd.host, port: ircd.port, nick: 'alice' });
  bob = await connectClient({ host: ircd.host, port: ircd.port, nick: 'bob' });
  for (const ch of CHANNELS) { await alice.join(ch); await bob.join(ch); }
  hive = await startHive({
    networks: { net: ircNetwork(ircd, { channels: CHANNELS }) },
    plugins: [
      { name: 'grant', exec: exec('grant'), config: { grants: { alice: ['autorespond.edit'] } } },
      // A long cooldown: every check below uses a channel (or private correspondent) of its own.
      { name: 'autorespond', use: 'autorespond', parent: 'grant', config: { cooldown: '60s', match_timeout: '500ms', max_overruns: 2 } },
    ],
  });
  for (const ch of CHANNELS) await botJoined(bob, 'hivebot', ch);
}, 60_000);

afterAll(async () => {
  alice?.close();
  bob?.close();
  await hive?.stop();
  await ircd?.stop();
});

/** Says `text` as `who` in `target` and waits for the bot's answer there (or in private). */
async function ask(who: IrcTestClient, target: string, text: string, answer: string | RegExp): Promise<string> {
  const since = who.mark();
  who.say(target, text);
  const replyTarget = target.startsWith('#') ? target : who.nick;
  const l = await expectPrivmsg(who, 'hivebot', replyTarget, answer, { since });
  return l.params[1]!;
}

describe('autorespond', () => {
  it('adds, lists and deletes rules (editing needs the capability) and answers matching talk once', async () => {
    await ask(bob, '#one', '!ar add /deploy/ nope', "ar: adding rules needs the capability 'autorespond.edit'");
    await ask(alice, '#one', '!ar add /\\bdeploy\\b/i deploys happen on Tuesdays', 'rule 1 added');
    await ask(alice, '#one', '!ar add /^hello$/ hi there', 'rule 2 added');
    await ask(alice, '#one', '!ar add /(unclosed/ x', /^ar add: invalid regex: .*Unterminated group/);
    await ask(alice, '#one', '!ar add /a/g x', "ar add: unknown or unusable flag 'g'; flags may be i, m, s and u");
    await ask(alice, '#one', `!ar add /${'a'.repeat(201)}/ x`, 'ar add: the pattern is longer than 200 characters');
    await ask(alice, '#one', '!ar add /lonely/', 'ar add: give a response after the pattern: ar add /REGEX/flags RESPONSE');

    // Listing needs no capability.
    let since = bob.mark();
    bob.say('#one', '!ar list');
    await expectPrivmsg(bob, 'hivebot', '#one', '#2 /^hello$/ → hi there', { since });
    // (Only the list: the answer to alice's last command may reach bob after his mark.)
    expect(privmsgsFrom(bob, 'hivebot', '#one', since).map((l) => l.params[1]).filter((t) => t!.startsWith('#'))).toEqual(['#1 /\\bdeploy\\b/i → deploys happen on Tuesdays', '#2 /^hello$/ → hi there']);

    // A command line is not talk, even when it matches a rule; ordinary talk that matches is
    // answered. Matching and answering are in order, so an answer to the command line in #one
    // would reach bob before the answer in #two.
    since = bob.mark();
    bob.say('#one', '!ar add /deploy/ deploy deploy');
    bob.say('#two', 'time to DEPLOY the thing');
    await expectPrivmsg(bob, 'hivebot', '#two', 'deploys happen on Tuesdays', { since });
    expect(privmsgsFrom(bob, 'hivebot', '#one', since).map((l) => l.params[1])).toEqual(["ar: adding rules needs the capability 'autorespond.edit'"]);
    // In private too, answered to the speaker.
    await ask(bob, 'hivebot', 'hello', 'hi there');

    await ask(bob, '#one', '!ar del 1', "ar: deleting rules needs the capability 'autorespond.edit'");
    await ask(alice, '#one', '!ar del 1', 'rule 1 deleted');
    await ask(alice, '#one', '!ar del 9', 'ar del: there is no rule 9 on this network');

    // The deleted rule is gone: in #three only 'hello' is answered.
    since = bob.mark();
    bob.say('#three', 'deploy it');
    bob.say('#three', 'hello');
    await expectPrivmsg(bob, 'hivebot', '#three', 'hi there', { since });
    // The cooldown: a second match in #three right away gets no answer. Messages are matched
    // (and answered) in order, so once #four's answer is there, #three's second 'hello' and
    // #two's have been decided.
    bob.say('#three', 'hello');
    bob.say('#three', '!ar list');
    await expectPrivmsg(bob, 'hivebot', '#three', '#2 /^hello$/ → hi there', { since });
    bob.say('#two', 'hello'); // #two is in its own cooldown too: the bot answers nothing there either
    bob.say('#four', 'hello'); // a fresh channel: answered, after the decisions above
    await expectPrivmsg(bob, 'hivebot', '#four', 'hi there', { since });
    expect(privmsgsFrom(bob, 'hivebot', '#three', since).map((l) => l.params[1])).toEqual(['hi there', '#2 /^hello$/ → hi there']);
    expect(privmsgsFrom(bob, 'hivebot', '#two', since).map((l) => l.params[1])).toEqual([]);
  });

  it('survives a catastrophic pattern: commands and other rules keep answering; the rule is disabled after repeated overruns', async () => {
    const evil = Number((await ask(alice, '#one', '!ar add /(a+)+$/ evil', /^rule \d+ added$/)).split(' ')[1]);
    await ask(alice, '#one', '!ar add /a!$/ caught', /^rule \d+ added$/);
    const text = `${'a'.repeat(36)}!`;

    let since = bob.mark();
    bob.say('#five', text);
    bob.say('#five', '!ar list');
    // The command is answered while (or after) the evil pattern runs: generous bound, no timing assertion.
    await expectPrivmsg(bob, 'hivebot', '#five', `#${evil} /(a+)+$/ → evil`, { since, timeout: 10_000 });
    // The rule after the evil one still gets its turn on the same message.
    await expectPrivmsg(bob, 'hivebot', '#five', 'caught', { since, timeout: 10_000 });
    const first = await waitForNodeLog(hive, 'autorespond', 'rule took too long to match; skipped for this message', (l) => l.rule === evil);
    expect(first.overruns).toBe(1);

    since = bob.mark();
    bob.say('#six', text);
    await expectPrivmsg(bob, 'hivebot', '#six', 'caught', { since, timeout: 10_000 });
    await waitForNodeLog(hive, 'autorespond', 'rule took too long to match and is now disabled', (l) => l.rule === evil);
    since = bob.mark();
    bob.say('#six', '!ar list');
    await expectPrivmsg(bob, 'hivebot', '#six', `#${evil} /(a+)+$/ → evil [disabled: took too long 2×]`, { since });

    // A disabled rule is not run any more: a third evil message is answered without an overrun.
    await ask(alice, 'hivebot', text, 'caught');
    expect(logsOf(hive, 'autorespond').filter((l) => String(l.msg).startsWith('rule took too long') && l.rule === evil).length).toBe(2);
    const node = await hive.node('autorespond');
    expect(node.state).toBe('running');
    expect(node.restarts).toBe(0);
  });

  it('keeps a confirmed rule across a kill -9 right after the confirmation', async () => {
    const before = await hive.node('autorespond');
    const since = alice.mark();
    alice.say('#one', '!ar add /^persist me$/ still here');
    const added = await expectPrivmsg(alice, 'hivebot', '#one', /^rule \d+ added$/, { since });
    process.kill(before.pid!, 'SIGKILL');
    await waitFor(async () => {
      const n = await hive.node('autorespond');
      return n.state === 'running' && n.pid !== before.pid;
    }, { timeout: 20_000, what: 'autorespond restarted' });
    // The new process may take a moment to attach below grant; say it until it answers (the
    // cooldown keeps it to one answer).
    const s = alice.mark();
    const answered = await waitFor(async () => {
      alice.say('#seven', 'persist me');
      return expectPrivmsg(alice, 'hivebot', '#seven', 'still here', { since: s, timeout: 2_000 }).catch(() => undefined);
    }, { timeout: 20_000, what: 'the restored rule answering' });
    expect(answered.params[1]).toBe('still here');
    // Listed once: a replay of the `ar add` after the restart did not add it again.
    const mark = alice.mark();
    alice.say('#seven', '!ar list');
    const id = added.params[1]!.split(' ')[1];
    await expectPrivmsg(alice, 'hivebot', '#seven', `#${id} /^persist me$/ → still here`, { since: mark });
    await new Promise((r) => setTimeout(r, 300));
    expect(privmsgsFrom(alice, 'hivebot', '#seven', mark).filter((l) => l.params[1]!.includes('persist me'))).toHaveLength(1);
  });
});
