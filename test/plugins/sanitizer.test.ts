// The sanitizer in a real tree on ngIRCd, seen from raw clients:
//   mouth → sanitizer → escape   (a misbehaving node: plugins/sanitizer/escape-example.ts)
//   mouth → loose                (the same node, unsanitized: proves each attempt would get out)
//   mouth → stripping → stripped (a sanitizer that strips formatting instead of refusing it)
// The bot joins #one, #two and #announce first (so it is a channel operator and a MODE or KICK of
// its would work); then alice, bob, carol join #one, dave #two and #announce.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNgircd, type Ircd } from '../helpers/ircd.js';
import { connectClient, type IrcTestClient } from '../helpers/irc-client.js';
import { startHive, type TestHive } from '../helpers/hive.js';
import { DIST } from '../helpers/paths.js';
import { waitFor } from '../helpers/wait.js';
import { expectPrivmsg, ircNetwork, logsOf, privmsgsFrom } from '../mouth/util.js';
import { callWithDeadline, connectBus } from '../../protocol/sdk/bus.js';
import { NODE_INTERFACE, NODE_PATH, nodeBusName } from '../../protocol/names.js';

const ESCAPE = ['node', join(DIST, 'plugins/run.js'), join(DIST, 'plugins/sanitizer/escape-example.js')];
const REFUSED = 'refused (org.hive.Error.Refused)';

let ircd: Ircd;
let hive: TestHive;
let alice: IrcTestClient;
let bob: IrcTestClient;
let carol: IrcTestClient;
let dave: IrcTestClient;

beforeAll(async () => {
  ircd = await startNgircd();
  hive = await startHive({
    networks: { net: ircNetwork(ircd, { channels: ['#one', '#two', '#announce'] }) },
    plugins: [
      { name: 'sanitizer', use: 'sanitizer', on_death: 'hold', config: { max_highlights: 2, formatting: 'refuse', extra_targets: ['#announce'] } },
      { name: 'escape', exec: ESCAPE, parent: 'sanitizer' },
      { name: 'loose', exec: ESCAPE, config: { word: 'loose' } },
      { name: 'stripping', use: 'sanitizer', config: { formatting: 'strip' } },
      { name: 'stripped', exec: ESCAPE, parent: 'stripping', config: { word: 'strip' } },
    ],
  });
  // The bot must be in its channels (as their first member, an operator) before the users come.
  alice = await connectClient({ host: ircd.host, port: ircd.port, nick: 'alice' });
  await waitFor(async () => {
    const since = alice.mark();
    alice.send('NAMES #announce');
    const l = await alice.waitFor((x) => x.command === '353' || x.command === '366', { since, timeout: 5000 });
    return l.command === '353' && /(^|\s)@hivebot(\s|$)/.test(l.params.at(-1) ?? '');
  }, { timeout: 20_000, interval: 200, what: 'the bot in #announce' });
  bob = await connectClient({ host: ircd.host, port: ircd.port, nick: 'bob' });
  carol = await connectClient({ host: ircd.host, port: ircd.port, nick: 'carol' });
  dave = await connectClient({ host: ircd.host, port: ircd.port, nick: 'dave' });
  for (const c of [alice, bob, carol]) await c.join('#one');
  await dave.join('#two');
  await dave.join('#announce');
}, 60_000);

afterAll(async () => {
  for (const c of [alice, bob, carol, dave]) c?.close();
  await hive?.stop();
  await ircd?.stop();
});

/** alice says `text` in #one and waits for the attempt's report there; returns the report. */
async function attempt(word: string, what: string): Promise<string> {
  const since = alice.mark();
  alice.say('#one', `!${word} ${what}`);
  const l = await expectPrivmsg(alice, 'hivebot', '#one', new RegExp(`^${word} ${what}: (sent|refused \\(.*\\))$`), { since, timeout: 15_000 });
  return l.params[1]!.slice(`${word} ${what}: `.length);
}

/** Lines from the bot (any command) a client received since `since`, raw. */
const fromBot = (c: IrcTestClient, since: number) => c.lines.slice(since).filter((l) => l.nick?.toLowerCase() === 'hivebot').map((l) => l.raw.replace(/^:\S+ /, ''));

async function sanitizerDetails(): Promise<Record<string, unknown>> {
  const info = JSON.parse(await readFile(join(hive.env.HIVE_RUNTIME_DIR!, `${hive.instance}.json`), 'utf8')) as { bus_address: string };
  const bus = await connectBus(info.bus_address);
  try {
    const reply = await callWithDeadline(bus, { destination: nodeBusName(hive.instance, 'sanitizer'), path: NODE_PATH, interface: 'org.freedesktop.DBus.Properties', member: 'Get', signature: 'ss', body: [NODE_INTERFACE, 'Details'] }, 10_000);
    const v = reply.body[0] as { value: Record<string, { value: unknown }> };
    return Object.fromEntries(Object.entries(v.value).map(([k, x]) => [k, x.value]));
  } finally {
    bus.disconnect();
  }
}

describe('sanitizer on ngIRCd', () => {
  it('without a sanitizer every attempt gets out (the control)', async () => {
    const [a, d] = [alice.mark(), dave.mark()];
    expect(await attempt('loose', 'channel')).toBe('sent');
    expect(await attempt('loose', 'private')).toBe('sent');
    expect(await attempt('loose', 'highlight')).toBe('sent');
    expect(await attempt('loose', 'mode')).toBe('sent');
    expect(await attempt('loose', 'format')).toBe('sent');
    expect(await attempt('loose', 'automaton')).toBe('sent');
    await expectPrivmsg(dave, 'hivebot', '#two', 'loose channel: hello #two', { since: d });
    await expectPrivmsg(dave, 'hivebot', 'dave', 'loose private: you did not ask', { since: d });
    const seen = fromBot(alice, a);
    expect(seen).toContain('PRIVMSG #one :alice bob carol dave erin frank: loose highlight!');
    expect(seen).toContain('MODE #one +v alice');
    expect(seen).toContain('PRIVMSG #one :\x02loose format\x02 in \x0304red\x03');
    expect(seen).toContain('PRIVMSG #one :loose automaton: nobody asked');
  });

  it('passes normal replies, a private reply to the speaker, and extra targets', async () => {
    const [a, b, d] = [alice.mark(), bob.mark(), dave.mark()];
    expect(await attempt('escape', 'normal')).toBe('sent');
    expect(await attempt('escape', 'speaker')).toBe('sent');
    expect(await attempt('escape', 'announce')).toBe('sent');
    expect(privmsgsFrom(alice, 'hivebot', '#one', a).map((l) => l.params[1])).toEqual([
      'escape normal: hello', 'escape normal: second line', 'escape normal: sent', 'escape speaker: sent', 'escape announce: sent',
    ]);
    expect(privmsgsFrom(alice, 'hivebot', 'alice', a).map((l) => l.params[1])).toEqual(['escape speaker: psst']);
    await expectPrivmsg(dave, 'hivebot', '#announce', 'escape announce: news', { since: d });
    // Asked in private, the answer may go to the speaker, and only there.
    const p = alice.mark();
    alice.say('hivebot', 'escape speaker');
    await expectPrivmsg(alice, 'hivebot', 'alice', 'escape speaker: sent', { since: p });
    alice.say('hivebot', 'escape channel');
    await expectPrivmsg(alice, 'hivebot', 'alice', `escape channel: ${REFUSED}`, { since: p });
    expect(privmsgsFrom(alice, 'hivebot', 'alice', p).map((l) => l.params[1])).toEqual(['escape speaker: psst', 'escape speaker: sent', `escape channel: ${REFUSED}`]);
    expect(privmsgsFrom(bob, 'hivebot', 'bob', b)).toEqual([]);
    expect(privmsgsFrom(dave, 'hivebot', '#two', d)).toEqual([]);
  });

  it('with formatting: strip, formatting codes are taken out of the text and the rest passes', async () => {
    const a = alice.mark();
    expect(await attempt('strip', 'format')).toBe('sent');
    expect(await attempt('strip', 'channel')).toBe(REFUSED);
    expect(fromBot(alice, a)).toEqual(['PRIVMSG #one :strip format in red', 'PRIVMSG #one :strip format: sent', `PRIVMSG #one :strip channel: ${REFUSED}`]);
  });

  it('refuses each escape attempt: nothing on the wire, a named error to the sender, a log line, counted', async () => {
    const before = (await hive.node('sanitizer')).counters.dropped;
    const detailsBefore = await sanitizerDetails();
    const marks = new Map([alice, bob, carol, dave].map((c) => [c, c.mark()]));
    const since = Date.now();
    const attempts = ['channel', 'private', 'highlight', 'mode', 'kick', 'format', 'mixed', 'automaton'];
    for (const what of attempts) expect(await attempt('escape', what), what).toBe(REFUSED);

    // On the wire: only the reports, in #one; nothing anywhere else, no MODE, no KICK.
    const last = `escape ${attempts.at(-1)}: ${REFUSED}`;
    for (const c of [alice, bob, carol]) await expectPrivmsg(c, 'hivebot', '#one', last, { since: marks.get(c) });
    for (const [c, m] of marks) {
      const seen = fromBot(c, m);
      if (c === dave) expect(seen).toEqual([]);
      else expect(seen).toEqual(attempts.map((w) => `PRIVMSG #one :escape ${w}: ${REFUSED}`));
    }
    // The sanitizer logged each refusal with its rule; the escaping node saw the named error.
    const refusals = await waitFor(() => {
      const r = logsOf(hive, 'sanitizer').filter((l) => l.msg === 'message refused' && (l.time as number) >= since);
      return r.length >= attempts.length ? r : undefined;
    }, { what: 'the refusals in the log' });
    expect(refusals.map((l) => l.rule)).toEqual(['target', 'target', 'highlight', 'command', 'command', 'formatting', 'target', 'target']);
    expect(refusals.every((l) => l.child === 'escape' && typeof l.reason === 'string')).toBe(true);
    expect(refusals[3]!.reason).toBe('MODE is not allowed here (allowed: PRIVMSG, NOTICE)');
    expect(refusals[2]!.reason).toBe('a line names 3 members of #one (at most 2 per line)');
    // The escaping node logs after the sanitizer's refusal has come back to it: wait for its lines too.
    const seenByChild = await waitFor(() => {
      const s = logsOf(hive, 'escape').filter((l) => l.msg === 'escape attempt refused' && (l.time as number) >= since);
      return s.length >= attempts.length ? s : undefined;
    }, { what: 'the escaping node\'s log of each refusal' });
    expect(seenByChild.map((l) => l.attempt)).toEqual(attempts);
    expect(seenByChild.every((l) => l.error === 'org.hive.Error.Refused' && String(l.reason).startsWith('sanitizer: '))).toBe(true);
    // Counted: the node's dropped counter and the sanitizer's own figures.
    expect((await hive.node('sanitizer')).counters.dropped - before).toBe(attempts.length);
    const details = await sanitizerDetails();
    expect(Number(details.refused) - Number(detailsBefore.refused)).toBe(attempts.length);
    const by = details.refused_by as Record<string, bigint>;
    const byBefore = detailsBefore.refused_by as Record<string, bigint>;
    expect(Object.fromEntries(Object.entries(by).map(([k, v]) => [k, Number(v - byBefore[k]!)]))).toEqual({ invalid: 0, command: 2, target: 4, highlight: 1, formatting: 1 });
  });

  it('after a kill -9 it learns the members again (NAMES) before judging a highlight', async () => {
    const old = await hive.node('sanitizer');
    const killedAt = Date.now();
    process.kill(old.pid!, 'SIGKILL');
    await waitFor(async () => {
      const [s, e] = [await hive.node('sanitizer'), await hive.node('escape')];
      return s.state === 'running' && s.pid !== old.pid && e.parent === 'sanitizer';
    }, { timeout: 30_000, interval: 200, what: 'the sanitizer restarted with escape under it' });
    const marks = new Map([alice, bob, carol, dave].map((c) => [c, c.mark()]));
    expect(await attempt('escape', 'highlight')).toBe(REFUSED);
    expect(await attempt('escape', 'normal')).toBe('sent');
    await expectPrivmsg(bob, 'hivebot', '#one', 'escape normal: sent', { since: marks.get(bob) });
    expect(fromBot(bob, marks.get(bob)!)).toEqual([
      `PRIVMSG #one :escape highlight: ${REFUSED}`, 'PRIVMSG #one :escape normal: hello', 'PRIVMSG #one :escape normal: second line', 'PRIVMSG #one :escape normal: sent',
    ]);
    expect(fromBot(dave, marks.get(dave)!)).toEqual([]);
    const asked = logsOf(hive, 'sanitizer').find((l) => l.msg === 'members of the channel unknown; asking NAMES' && (l.time as number) > killedAt);
    expect(asked).toMatchObject({ channel: '#one' });
  });
});
