// The auth filter in real trees, with the guarded example responder (`secret` only for admin)
// under it. On ngIRCd: capabilities by hostmask; capabilities forged above the filter (the grant
// fixture gives bob admin) are replaced; whoami; and `on_death: hold` — after a kill -9 of auth its
// subtree is never bypassed (bob, admin above auth, never gets the secret), and while auth is
// stopped a command is answered only once auth is back. On InspIRCd + Atheme: capabilities by
// services account (account-tag), and accounts learnt with WHOX after auth restarts knowing nothing.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startInspircd, startNgircd, type Ircd } from '../helpers/ircd.js';
import { connectClient, type IrcTestClient } from '../helpers/irc-client.js';
import { startHive, type TestHive } from '../helpers/hive.js';
import { DIST } from '../helpers/paths.js';
import { startFakeIrcd, type FakeIrcd } from '../helpers/fake-ircd.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { botJoined, exec, expectPrivmsg, ircNetwork, privmsgsFrom } from '../mouth/util.js';
import { watchMessages } from '../../tree-supervisor/cli-tap.js';
import { runtimeFile, type RuntimeInfo } from '../../tree-supervisor/runtime-file.js';

const GUARDED = ['node', join(DIST, 'plugins/run.js'), join(DIST, 'plugins/auth/guarded-example.js')];
const SECRET = 'the secret';
const REFUSED = 'not allowed: secret needs the admin capability';

let hive: TestHive | undefined;
const clients: IrcTestClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await hive?.stop();
  hive = undefined;
});

const attachedTimes = (h: TestHive, node: string) => h.logs.filter((l) => l.node === node && l.msg === 'attached to parent').length;
const attached = (h: TestHive, node: string, times = 1) => waitFor(() => attachedTimes(h, node) >= times, { timeout: 20_000, what: `${node} attached ${times} time(s)` });

async function client(ircd: Ircd, nick: string, sasl?: { name: string; password: string }): Promise<IrcTestClient> {
  const c = await connectClient({ host: ircd.host, port: ircd.port, nick, sasl: sasl && { account: sasl.name, password: sasl.password } });
  clients.push(c);
  await c.join('#one');
  return c;
}

/** `who` says `text` in #one and waits for the bot's answer `answer` there. */
async function say(who: IrcTestClient, text: string, answer: string | RegExp): Promise<void> {
  const since = who.mark();
  who.say('#one', text);
  await expectPrivmsg(who, 'hivebot', '#one', answer, { since, timeout: 15_000 });
}

/** The bot's lines in #one from index `since` on, as `who` saw them. */
const answers = (who: IrcTestClient, since = 0) => privmsgsFrom(who, 'hivebot', '#one', since).map((l) => l.params[1]);

describe('auth on ngIRCd: hostmasks, forged capabilities, on_death: hold', () => {
  let ircd: Ircd;
  beforeAll(async () => { ircd = await startNgircd(); });
  afterAll(async () => { await ircd?.stop(); });

  it('grants by hostmask and replaces capabilities that come from above it; whoami says so', async () => {
    const alice = await client(ircd, 'alice');
    const bob = await client(ircd, 'bob');
    hive = await startHive({
      networks: { net: ircNetwork(ircd) },
      plugins: [
        // Above auth, bob "is" admin: a forgery auth must not pass on.
        { name: 'grant', exec: exec('grant'), config: { grants: { bob: ['admin'] } } },
        { name: 'auth', use: 'auth', parent: 'grant', on_death: 'hold', config: { masks: { 'alice!*@*': ['admin'], '*!*@127.0.0.1': ['chat'] } } },
        { name: 'guarded', exec: GUARDED, parent: 'auth' },
        // The same responder above auth, to show the forgery is real there.
        { name: 'above', exec: GUARDED, parent: 'grant' },
      ],
    });
    await botJoined(alice, 'hivebot', '#one');
    await attached(hive, 'guarded');
    await attached(hive, 'above');

    // One answer from each responder: alice is admin only under auth, bob only above it.
    let since = alice.mark();
    alice.say('#one', '!secret');
    await waitFor(() => answers(alice, since).length >= 2, { timeout: 15_000, what: 'two answers to alice' });
    expect(answers(alice, since).sort()).toEqual([REFUSED, SECRET]);
    since = bob.mark();
    bob.say('#one', '!secret');
    await waitFor(() => answers(bob, since).length >= 2, { timeout: 15_000, what: 'two answers to bob' });
    expect(answers(bob, since).sort()).toEqual([REFUSED, SECRET]);

    await say(alice, '!whoami', /^alice \(alice!~?alice@127\.0\.0\.1\): account unknown; matching masks: alice!\*@\*, \*!\*@127\.0\.0\.1; capabilities: admin, chat$/);
    await say(bob, 'hivebot: whoami', /^bob \(bob!~?bob@127\.0\.0\.1\): account unknown; matching masks: \*!\*@127\.0\.0\.1; capabilities: chat$/);
    // In private too, and nothing else answers whoami.
    since = bob.mark();
    bob.say('hivebot', 'whoami');
    await expectPrivmsg(bob, 'hivebot', 'bob', /capabilities: chat$/, { since });
    await sleep(300);
    expect(bob.lines.slice(since).filter((l) => l.command === 'PRIVMSG' && l.nick === 'hivebot')).toHaveLength(1);
  });

  it('on_death: hold — a killed auth is never bypassed, and a stopped one holds commands until it is back', async () => {
    const alice = await client(ircd, 'alice');
    const bob = await client(ircd, 'bob');
    hive = await startHive({
      networks: { net: ircNetwork(ircd) },
      plugins: [
        { name: 'grant', exec: exec('grant'), config: { grants: { bob: ['admin'] } } },
        { name: 'auth', use: 'auth', parent: 'grant', on_death: 'hold', config: { masks: { 'alice!*@*': ['admin'] } } },
        { name: 'guarded', exec: GUARDED, parent: 'auth' },
      ],
    });
    const h = hive;
    await botJoined(alice, 'hivebot', '#one');
    await attached(h, 'guarded');
    // bob asks in private: what the bot says to him there is his alone.
    const bobAsks = async () => {
      const since = bob.mark();
      bob.say('hivebot', 'secret');
      await expectPrivmsg(bob, 'hivebot', 'bob', REFUSED, { since, timeout: 15_000 });
    };
    const toBob = () => privmsgsFrom(bob, 'hivebot', 'bob').map((l) => l.params[1]);
    await say(alice, '!secret', SECRET);
    await bobAsks();

    // kill -9: had the supervisor moved guarded up to grant, bob (admin there) would get the secret.
    // The supervisor's log, not `hive tree`, says what it did: each `hive` command is a node process
    // of its own (0.5 s idle, 3-6 s on a loaded machine), and this test's 30 s had room for few.
    const started = (l: Record<string, unknown>) => l.msg === 'node started' && l.child === 'auth';
    const pid = h.logs.filter(started).at(-1)!.pid as number;
    let mark = h.logs.length;
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 5; i++) { bob.say('hivebot', 'secret'); await sleep(100); }
    const held = (l: Record<string, unknown>) => l.msg === 'node held: its guard is down' && l.child === 'guarded';
    await waitFor(() => h.logs.slice(mark).find(held), { timeout: 15_000, what: 'guarded held' });
    // Running again ('node back' is logged as it takes its name), as a new process.
    await waitFor(() => h.logs.slice(mark).find((l) => l.msg === 'node back' && l.child === 'auth'), { timeout: 20_000, what: 'auth restarted' });
    expect(h.logs.slice(mark).filter(started).map((l) => l.pid)).not.toContain(pid);
    await attached(h, 'guarded', 2);
    await say(alice, '!secret', SECRET);
    await bobAsks();
    expect(toBob().length).toBeGreaterThanOrEqual(2);
    expect(toBob()).not.toContain(SECRET);
    expect(h.logs.filter((l) => l.msg === 'node re-parented' && l.child === 'guarded')).toEqual([]);

    // Stopped: guarded is held, and alice's command waits for auth rather than going anywhere else.
    mark = h.logs.length;
    const stop = await h.cli('stop', 'auth', '--config', h.configFile);
    expect(stop.exitCode, stop.stderr).toBe(0);
    // Lines after the mark only: guarded was held once already, after the kill.
    await waitFor(() => h.logs.slice(mark).find(held), { timeout: 15_000, what: 'guarded held' });
    const since = alice.mark();
    alice.say('#one', '!secret');
    await sleep(2500);
    expect(answers(alice, since)).toEqual([]);
    expect((await h.node('guarded')).state).toBe('held');
    const start = await h.cli('start', 'auth', '--config', h.configFile);
    expect(start.exitCode, start.stderr).toBe(0);
    await expectPrivmsg(alice, 'hivebot', '#one', SECRET, { since, timeout: 20_000 });
    await sleep(500);
    expect(answers(alice, since)).toEqual([SECRET]);
    expect(toBob()).not.toContain(SECRET);
  });
});

describe('auth on InspIRCd + Atheme: services accounts', () => {
  const ALICE = { name: 'alice', password: 'alice-secret-1' };
  let ircd: Ircd;
  beforeAll(async () => { ircd = await startInspircd({ accounts: [ALICE] }); }, 60_000);
  afterAll(async () => { await ircd?.stop(); });

  it('the admin account may, a user without an account may not; accounts are learnt with WHOX after a restart', async () => {
    // Both come from the same host: only the account tells them apart.
    const alice = await client(ircd, 'alice', ALICE);
    const bob = await client(ircd, 'bob');
    hive = await startHive({
      networks: { net: ircNetwork(ircd) },
      plugins: [
        { name: 'auth', use: 'auth', on_death: 'hold', config: { accounts: { alice: ['admin'] }, masks: { '*!*@127.0.0.1': ['chat'] } } },
        { name: 'guarded', exec: GUARDED, parent: 'auth' },
      ],
    });
    const h = hive;
    await botJoined(alice, 'hivebot', '#one');
    await attached(h, 'guarded');
    await say(alice, '!secret', SECRET);
    await say(bob, '!secret', REFUSED);
    await say(alice, '!whoami', /^alice \(alice!~?alice@127\.0\.0\.1\): account alice; matching masks: \*!\*@127\.0\.0\.1; capabilities: admin, chat$/);
    // A bus monitor reads the hive.seq of every line the mouth passes down from here on.
    const info = JSON.parse(await readFile(runtimeFile(h.instance, h.env), 'utf8')) as RuntimeInfo;
    let lastSeq = 0;
    let whoamiSeen = false;
    const watch = await watchMessages(info, (m) => {
      if (m.direction !== 'down' || m.meta['hive.network'] !== 'net' || m.meta['hive.seq'] === undefined) return;
      lastSeq = Math.max(lastSeq, Number(m.meta['hive.seq']));
      if (m.lines.some((l) => /:bob!\S+ PRIVMSG #one :!whoami\b/.test(l))) whoamiSeen = true;
    }, async () => []);
    try {
      await say(bob, '!whoami', /^bob \(bob!~?bob@127\.0\.0\.1\): account not logged in; matching masks: \*!\*@127\.0\.0\.1; capabilities: chat$/);
      // Past the node's sequence-number save, so nothing tagged is replayed to it: the save runs on
      // a timer and an async write (a fixed pause can end first on a loaded machine), so wait until
      // auth's .hive-seq.json holds the number of the last line passed down, bob's !whoami or later.
      await waitFor(() => whoamiSeen, { what: "bob's !whoami on the bus" });
      const last = lastSeq;
      const seqFile = join(h.dir, 'state', 'auth', '.hive-seq.json');
      await waitFor(async () => (JSON.parse(await readFile(seqFile, 'utf8')) as Record<string, number>).net! >= last, { what: () => `${seqFile} to hold ${last}` });
    } finally {
      watch.stop();
    }

    // A restarted auth knows nothing about anyone. bob's untagged line is all it sees, which cannot
    // tell "not logged in" from "no account-tag here": it asks the server with WHOX.
    const before = await h.node('auth');
    process.kill(before.pid!, 'SIGKILL');
    await waitFor(async () => { const n = await h.node('auth'); return n.state === 'running' && n.pid !== before.pid; }, { timeout: 20_000, what: 'auth restarted' });
    await attached(h, 'auth', 2);
    await attached(h, 'guarded', 2);
    const logMark = h.logs.length;
    bob.say('#one', 'hello, anyone?');
    const learnt = await waitFor(() => h.logs.slice(logMark).find((l) => l.node === 'auth' && l.msg === 'accounts learnt from WHO'), { timeout: 15_000, what: 'a WHOX answer' });
    // hivebot, alice and bob are in #one.
    expect(learnt.answers).toBe(3);
    await say(bob, '!whoami', /^bob \(.*\): account not logged in; .*capabilities: chat$/);
    await say(alice, '!secret', SECRET);
    await say(bob, '!secret', REFUSED);
  });
});

// Issue 14, item 6: 5,000 JOINs made auth send one WHO per channel at once; the mouth's queue
// filled ("500 of them from auth") and every other reply on that network was refused. Now auth
// keeps one WHO in flight per network with a bounded waiting list, and ping, under auth, is answered.
describe('auth in a storm of JOINs (fake server)', () => {
  let fake: FakeIrcd | undefined;
  afterEach(async () => { await fake?.close(); fake = undefined; });

  it('sends a bounded number of WHOs for 5,000 JOINs while !ping stays answered', async () => {
    // The server says it supports WHOX, so auth asks.
    fake = await startFakeIrcd({ onRegistered: (c) => c.socket.write(`:fake.test 005 ${c.nick} WHOX :are supported by this server\r\n`) });
    hive = await startHive({
      networks: { fake: ircNetwork(fake, { flood: { burst: 5, rate: 5 } }) },
      plugins: [{ name: 'auth', use: 'auth' }, { name: 'ping', use: 'ping', parent: 'auth' }],
    });
    const conn = await fake.waitRegistered();
    await fake.waitLine(/^JOIN #one/);
    await attached(hive, 'ping');
    const ping = async () => {
      const since = conn.lines.length;
      fake!.send(':alice!a@example.org PRIVMSG #one :!ping');
      await fake!.waitLine(/^PRIVMSG #one :pong$/, { since, timeout: 10_000 });
    };
    await ping();
    const storm = Array.from({ length: 5000 }, (_, i) => `:${conn.nick}!bot@fake.host JOIN #storm${i}\r\n`).join('');
    await fake.write(Buffer.from(storm));
    await ping();
    // And again a while later, when the old code's WHOs would still fill the queue.
    await sleep(2000);
    await ping();
    const whos = conn.lines.filter((l) => /^WHO /i.test(l));
    // One for #one, one in flight for the storm (15 s until a WHO the server never ends times out).
    expect(whos.length, whos.slice(0, 5).join(' | ')).toBeGreaterThanOrEqual(1);
    expect(whos.length, whos.slice(0, 5).join(' | ')).toBeLessThanOrEqual(3);
    const tree = await hive.tree();
    expect(tree.find((n) => n.name === 'auth')?.state).toBe('running');
  });
});
