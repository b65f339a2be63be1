// Issue 8's tree on InspIRCd + Atheme: mouth → auth → ratelimit → sanitizer → compose →
// {text, echo, notes, escape}. alice is logged in to the services account `alice` (admin in
// auth's config), bob and dave are not. The right people get the right answers: composed and
// nested commands for everyone, note deletion only for the author or a holder of the capability,
// nothing past the sanitizer but answers where they were asked, a rate limit per user, and a
// kill -9 of the `hold` auth filter that lets nothing through while it is down.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { startInspircd, type Ircd } from '../helpers/ircd.js';
import { connectClient, type IrcTestClient } from '../helpers/irc-client.js';
import { startHive, type TestHive } from '../helpers/hive.js';
import { DIST } from '../helpers/paths.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { botJoined, expectPrivmsg, ircNetwork, privmsgsFrom, waitForNodeLog } from '../mouth/util.js';

const ALICE = { name: 'alice', password: 'alice-secret-1' };
let ircd: Ircd;
let hive: TestHive;
let alice: IrcTestClient;
let bob: IrcTestClient;
let dave: IrcTestClient;
let carol: IrcTestClient; // in #two only: a sanitizer escape would reach her
let erin: IrcTestClient; // only floods
const clients: IrcTestClient[] = [];

async function client(nick: string, channels: string[], sasl?: typeof ALICE): Promise<IrcTestClient> {
  const c = await connectClient({ host: ircd.host, port: ircd.port, nick, sasl: sasl && { account: sasl.name, password: sasl.password } });
  clients.push(c);
  for (const ch of channels) await c.join(ch);
  return c;
}

/** `who` says `text` in #one and waits for the bot's answer there. */
async function ask(who: IrcTestClient, text: string, answer: string | RegExp): Promise<void> {
  const since = who.mark();
  who.say('#one', text);
  await expectPrivmsg(who, 'hivebot', '#one', answer, { since, timeout: 15_000 });
}

const answers = (who: IrcTestClient, since: number) => privmsgsFrom(who, 'hivebot', '#one', since).map((l) => l.params[1]);

beforeAll(async () => {
  ircd = await startInspircd({ accounts: [ALICE] });
  alice = await client('alice', ['#one'], ALICE);
  bob = await client('bob', ['#one']);
  dave = await client('dave', ['#one']);
  carol = await client('carol', ['#two']);
  erin = await client('erin', ['#one']);
  hive = await startHive({
    networks: { net: ircNetwork(ircd, { channels: ['#one', '#two'] }) },
    plugins: [
      { name: 'auth', use: 'auth', on_death: 'hold', config: { accounts: { alice: ['admin'] }, default: [] } },
      { name: 'ratelimit', use: 'ratelimit', parent: 'auth', config: { commands: 10, per: '30s' } },
      { name: 'sanitizer', use: 'sanitizer', parent: 'ratelimit', on_death: 'hold' },
      { name: 'compose', use: 'compose', parent: 'sanitizer' },
      { name: 'text', use: 'text', parent: 'compose' },
      { name: 'echo', use: 'echo', parent: 'compose' },
      { name: 'notes', use: 'notes', parent: 'compose' },
      { name: 'escape', exec: ['node', join(DIST, 'plugins/run.js'), join(DIST, 'plugins/sanitizer/escape-example.js')], parent: 'compose', config: { other_channel: '#two', victim: 'carol' } },
    ],
  });
  await Promise.all([botJoined(alice, 'hivebot', '#one'), botJoined(carol, 'hivebot', '#two')]);
  for (const node of ['auth', 'ratelimit', 'sanitizer', 'compose', 'text', 'echo', 'notes', 'escape']) {
    await waitForNodeLog(hive, node, 'attached to parent', () => true, 30_000);
  }
  // compose learns the commands of its subtree before it can compose them.
  await waitFor(() => hive.logs.some((l) => l.node === 'compose' && l.msg === 'subtree commands' && JSON.stringify(l).includes('reverse') && JSON.stringify(l).includes('escape')), { timeout: 20_000, what: 'compose knows its subtree' });
}, 120_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await hive?.stop();
  await ircd?.stop();
});

describe('mouth → auth → ratelimit → sanitizer → compose → {text, echo, notes}', () => {
  it('composes and nests commands for everyone, once each', async () => {
    const since = bob.mark();
    await ask(alice, '!compose reverse rot13 hello', 'byyru');
    await ask(bob, '!echo [upper [reverse abc]]', 'CBA');
    await ask(bob, '!whoami', /^bob \(.*\): account not logged in; .*capabilities: none$/);
    await sleep(500);
    expect(answers(bob, since).filter((t) => t === 'CBA' || t === 'byyru' || t === '[upper [reverse abc]]')).toEqual(['byyru', 'CBA']);
  });

  it('lets only the author or a capability holder delete a note', async () => {
    await ask(bob, '!note add bob was here', 'note 1 added');
    await ask(alice, '!note add alice too', 'note 2 added');
    await ask(bob, '!note del 2', /^you cannot delete note 2: only its author \(alice, logged in as alice\) or someone with the notes\.delete capability can$/);
    await ask(bob, '!note 2', /^note 2 by alice, .*: alice too$/);
    // alice is admin through her services account, so she may delete bob's note.
    await ask(alice, '!whoami', /^alice \(.*\): account alice; .*capabilities: admin$/);
    await ask(alice, '!note del 1', 'note 1 deleted');
    await ask(bob, '!note 1', 'note 1 was deleted');
  });

  it('keeps a plugin inside the sanitizer: no other channel, no stranger, no MODE', async () => {
    const carolSince = carol.mark();
    await ask(dave, '!escape channel', 'escape channel: refused (org.hive.Error.Refused)');
    await ask(dave, '!escape private', 'escape private: refused (org.hive.Error.Refused)');
    await ask(dave, '!escape mode', 'escape mode: refused (org.hive.Error.Refused)');
    await ask(dave, '!escape normal', /^escape normal: sent$/);
    await sleep(500);
    // Nothing reached #two or carol, and no MODE was sent anywhere.
    expect(carol.lines.slice(carolSince).filter((l) => l.nick === 'hivebot')).toEqual([]);
    expect(alice.lines.filter((l) => l.nick === 'hivebot' && l.command === 'MODE')).toEqual([]);
    const refusals = hive.logs.filter((l) => l.node === 'sanitizer' && l.msg === 'message refused');
    expect(refusals.length).toBeGreaterThanOrEqual(3);
  });

  it('limits each user, not everyone: one notice, then silence', async () => {
    const since = erin.mark();
    for (let i = 1; i <= 12; i++) erin.say('#one', `!echo e${i}`);
    await waitFor(() => erin.lines.slice(since).some((l) => l.command === 'NOTICE' && l.nick === 'hivebot'), { timeout: 15_000, what: 'the rate-limit notice' });
    // alice is not limited by erin's flood.
    await ask(alice, '!echo alice still', 'alice still');
    await sleep(1000);
    expect(answers(erin, since).filter((t) => /^e\d+$/.test(t))).toEqual(['e1', 'e2', 'e3', 'e4', 'e5', 'e6', 'e7', 'e8', 'e9', 'e10']);
    expect(erin.lines.slice(since).filter((l) => l.command === 'NOTICE' && l.nick === 'hivebot')).toHaveLength(1);
  });

  it('a kill -9 of the hold auth filter lets nothing through until it is back, then all is as before', async () => {
    const before = await hive.node('auth');
    const attachedBefore = hive.logs.filter((l) => l.node === 'ratelimit' && l.msg === 'attached to parent').length;
    const since = dave.mark();
    process.kill(before.pid!, 'SIGKILL');
    dave.say('#one', '!echo during the outage');
    // While auth is down its subtree is held, not moved under the mouth.
    await waitFor(async () => (await hive.node('ratelimit')).state === 'held' || (await hive.node('auth')).pid !== before.pid, { timeout: 20_000, what: 'ratelimit held or auth back' });
    expect((await hive.node('ratelimit')).parent).not.toBe('mouth');
    await waitFor(async () => { const n = await hive.node('auth'); return n.state === 'running' && n.pid !== before.pid; }, { timeout: 20_000, what: 'auth restarted' });
    await waitFor(() => hive.logs.filter((l) => l.node === 'ratelimit' && l.msg === 'attached to parent').length > attachedBefore, { timeout: 20_000, what: 'ratelimit attached again' });
    expect(hive.logs.filter((l) => l.msg === 're-parenting' && JSON.stringify(l).includes('ratelimit') && JSON.stringify(l).includes('"mouth"'))).toEqual([]);
    const authBack = hive.logs.filter((l) => l.node === 'auth' && l.msg === 'attached to parent').at(-1)!.time as number;
    await ask(alice, '!compose upper reverse abc', 'CBA');
    // The line said while auth was down is answered once (auth's replay from the mouth brings it),
    // and not before auth was back.
    const duringOutage = () => privmsgsFrom(dave, 'hivebot', '#one', since).filter((l) => l.params[1] === 'during the outage');
    await waitFor(() => duringOutage().length >= 1, { timeout: 10_000, what: 'the line said during the outage answered' });
    await new Promise((r) => setTimeout(r, 300));
    const during = duringOutage();
    expect(during).toHaveLength(1);
    for (const l of during) expect(l.at).toBeGreaterThanOrEqual(authBack);
    await ask(alice, '!whoami', /capabilities: admin$/);
    await ask(dave, '!escape channel', 'escape channel: refused (org.hive.Error.Refused)');
  });
});
