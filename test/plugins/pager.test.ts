// The pager in real trees. On ngIRCd (raw clients alice and bob in #one): mouth → pager → multi,
// where `!multi N` answers one message of N lines "M i/N". On the terminal: a pager whose pages
// expire after a second.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNgircd, type Ircd } from '../helpers/ircd.js';
import { connectClient, type IrcTestClient } from '../helpers/irc-client.js';
import { startHive, type TestHive } from '../helpers/hive.js';
import { sleep } from '../helpers/wait.js';
import { botJoined, exec, expectPrivmsg, ircNetwork, privmsgsFrom } from '../mouth/util.js';

let ircd: Ircd;
let hive: TestHive;
let alice: IrcTestClient;
let bob: IrcTestClient;

const lines = (label: string, from: number, to: number, of: number) => Array.from({ length: to - from + 1 }, (_, i) => `${label} ${from + i}/${of}`);

beforeAll(async () => {
  ircd = await startNgircd();
  alice = await connectClient({ host: ircd.host, port: ircd.port, nick: 'alice' });
  bob = await connectClient({ host: ircd.host, port: ircd.port, nick: 'bob' });
  await alice.join('#one');
  await bob.join('#one');
  hive = await startHive({
    networks: { net: ircNetwork(ircd) },
    plugins: [
      { name: 'pager', use: 'pager' },
      { name: 'multi', exec: exec('multi'), parent: 'pager', config: { label: 'M' } },
    ],
  });
  await botJoined(alice, 'hivebot', '#one');
}, 60_000);

afterAll(async () => {
  alice?.close();
  bob?.close();
  await hive?.stop();
  await ircd?.stop();
});

/**
 * `who` says `text` in `where`; waits for `last` from the bot there and returns all the bot said
 * there since. In #one it also waits until the other client has seen `last`, so that the next
 * exchange starts with nothing of this one still on its way.
 */
async function exchange(who: IrcTestClient, where: string, text: string, last: string): Promise<string[]> {
  const since = who.mark();
  const others = where.startsWith('#') ? [alice, bob].filter((c) => c !== who).map((c) => [c, c.mark()] as const) : [];
  const replyTarget = where.startsWith('#') ? where : who.nick;
  who.say(where, text);
  await expectPrivmsg(who, 'hivebot', replyTarget, last, { since, timeout: 15_000 });
  for (const [c, mark] of others) await expectPrivmsg(c, 'hivebot', where, last, { since: mark, timeout: 15_000 });
  return privmsgsFrom(who, 'hivebot', replyTarget, since).map((l) => l.params[1]!);
}

describe('pager on ngIRCd', () => {
  it('sends 4 lines and a hint, then 4 more, then the last 2, then nothing more', async () => {
    const n = await hive.node('multi');
    expect(n.parent).toBe('pager');
    expect(await exchange(alice, '#one', '!multi 10', '(+6 more lines: say !more)')).toEqual([...lines('M', 1, 4, 10), '(+6 more lines: say !more)']);
    expect(await exchange(alice, '#one', '!more', '(+2 more lines: say !more)')).toEqual([...lines('M', 5, 8, 10), '(+2 more lines: say !more)']);
    // The last part has no hint: the next answer on the wire is the "nothing more" of the next !more.
    const since = alice.mark();
    await exchange(alice, '#one', '!more', 'M 10/10');
    expect(await exchange(alice, '#one', '!more', 'nothing more')).toEqual(['nothing more']);
    expect(privmsgsFrom(alice, 'hivebot', '#one', since).map((l) => l.params[1])).toEqual(['M 9/10', 'M 10/10', 'nothing more']);
    // An answer of exactly 4 lines passes whole, and nothing is kept of it.
    expect(await exchange(alice, '#one', '!multi 4', 'M 4/4')).toEqual(lines('M', 1, 4, 4));
    expect(await exchange(alice, '#one', '!more', 'nothing more')).toEqual(['nothing more']);
  });

  it("keeps each user's and each target's rest apart, and a new long answer replaces the old rest", async () => {
    await exchange(alice, '#one', '!multi 10', '(+6 more lines: say !more)');
    await exchange(bob, '#one', '!multi 7', '(+3 more lines: say !more)');
    // bob's more gives bob's rest, alice's gives hers.
    expect(await exchange(bob, '#one', '!more', 'M 7/7')).toEqual(lines('M', 5, 7, 7));
    expect(await exchange(alice, '#one', '!more', '(+2 more lines: say !more)')).toEqual([...lines('M', 5, 8, 10), '(+2 more lines: say !more)']);
    expect(await exchange(bob, '#one', '!more', 'nothing more')).toEqual(['nothing more']);

    // A new long answer to alice in #one replaces what was left of the old one (M 9/10, M 10/10).
    await exchange(alice, '#one', '!multi 6', '(+2 more lines: say !more)');
    // A long answer in private is kept for the private conversation, apart from #one.
    expect(await exchange(alice, 'hivebot', 'multi 5', '(+1 more line: say !more)')).toEqual([...lines('M', 1, 4, 5), '(+1 more line: say !more)']);
    expect(await exchange(alice, '#one', '!more', 'M 6/6')).toEqual(lines('M', 5, 6, 6));
    expect(await exchange(alice, '#one', '!more', 'nothing more')).toEqual(['nothing more']);
    expect(await exchange(alice, 'hivebot', 'more', 'M 5/5')).toEqual(['M 5/5']);
    // bob, in the same channel, never saw alice's private lines.
    expect(privmsgsFrom(bob, 'hivebot', 'bob')).toEqual([]);
  });
});

describe('pager expiry (terminal)', () => {
  let term: TestHive | undefined;
  afterAll(async () => { await term?.stop(); });

  it('forgets a kept rest after `expire`; `lines` sets the page size', async () => {
    term = await startHive({
      networks: { console: { type: 'terminal', quiet_ms: 200 } },
      plugins: [
        { name: 'pager', use: 'pager', config: { lines: 3, expire: '1s' } },
        { name: 'multi', exec: exec('multi'), parent: 'pager', config: { label: 'T' } },
      ],
    });
    let mark = term.stdout.length;
    term.say('!multi 5');
    await term.expectOutput('(+2 more lines: say !more)', { since: mark, timeout: 15_000 });
    expect(term.stdout.slice(mark)).toEqual([...lines('T', 1, 3, 5), '(+2 more lines: say !more)']);
    await sleep(2500); // longer than `expire`
    mark = term.stdout.length;
    term.say('!more');
    await term.expectOutput('nothing more', { since: mark, timeout: 15_000 });
    expect(term.stdout.slice(mark)).toEqual(['nothing more']);
  }, 40_000);
});
