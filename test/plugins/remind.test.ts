// remind through a real tree: on the terminal network (delay, ISO time, listing, forgetting,
// limits and bad input), across a kill -9 and a stop/start of the plugin (persistence, late
// delivery), and on ngIRCd seen from a raw client (channel and private message).
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startHive, alive, type TestHive } from '../helpers/hive.js';
import { startNgircd, type Ircd } from '../helpers/ircd.js';
import { connectClient, type IrcTestClient } from '../helpers/irc-client.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { botJoined, expectPrivmsg, ircNetwork, privmsgsFrom } from '../mouth/util.js';

const terminal = { console: { type: 'terminal', quiet_ms: 200 } };
const CONFIRM = /^ok, I'll remind you in (\S+) \(at (?:(\d{4}-\d\d-\d\d) )?(\d\d:\d\d(?::\d\d)?) UTC\) \[#(\d+)\]$/;

let hive: TestHive | undefined;
let ircd: Ircd | undefined;
const clients: IrcTestClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await hive?.stop();
  hive = undefined;
});
afterAll(async () => { await ircd?.stop(); });

/** Says `text` on the terminal and returns the first line printed after it that matches. */
async function ask(h: TestHive, text: string, match: string | RegExp = /./, timeout = 10_000): Promise<string> {
  const since = h.stdout.length;
  h.say(text);
  return h.expectOutput(match, { since, timeout });
}

describe('remind on the terminal network', () => {
  it('confirms, then says "nick: TEXT" after the delay; ISO times, listing, forgetting, limits and bad input', async () => {
    hive = await startHive({ networks: terminal, plugins: [{ name: 'remind', use: 'remind', config: { max_pending: 3, max_text: 50 } }] });

    const saidAt = Date.now();
    const confirm = await ask(hive, '!remind 2s stretch your legs');
    const m = CONFIRM.exec(confirm);
    expect(m, confirm).not.toBeNull();
    expect(m![1]).toBe('2s');
    const line = await hive.expectOutput('you: stretch your legs', { timeout: 10_000 });
    expect(line).toBe('you: stretch your legs');
    // Not before its time: the mouth stamps hive.time after we typed the line.
    expect(Date.now() - saidAt).toBeGreaterThanOrEqual(2000);
    // The confirmed time (HH:MM:SS UTC) is the time of delivery, to the second.
    const [h, mi, s] = m![3]!.split(':').map(Number);
    const at = new Date(saidAt);
    const confirmed = Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate(), h, mi, s);
    expect(Math.abs(confirmed - (saidAt + 2000))).toBeLessThan(1500);

    // An absolute ISO time with Z, 3 s ahead, to the second.
    const target = new Date(Math.ceil((Date.now() + 3000) / 1000) * 1000);
    const iso = target.toISOString().slice(0, 19) + 'Z';
    const isoConfirm = await ask(hive, `!remind ${iso} iso time`);
    expect(isoConfirm).toMatch(CONFIRM);
    expect(CONFIRM.exec(isoConfirm)![3]).toBe(iso.slice(11, 19));
    await hive.expectOutput('you: iso time', { timeout: 10_000 });
    expect(Date.now()).toBeGreaterThanOrEqual(target.getTime());

    // A clock time is UTC, today or tomorrow: never more than a day ahead.
    const clock = await ask(hive, '!remind at 00:00 midnight');
    const c = CONFIRM.exec(clock);
    expect(c, clock).not.toBeNull();
    expect(c![3]).toBe('00:00');
    expect(c![2]).toBe(new Date(Date.now() + 86_400_000).toISOString().slice(0, 10));
    expect(c![1]).not.toMatch(/d/);

    const later = await ask(hive, '!remind 1h30m tea');
    expect(CONFIRM.exec(later)![1]).toBe('1h30m');
    const teaId = CONFIRM.exec(later)![4];

    // The limit of 3 pending per person (midnight, tea, and one more).
    expect(await ask(hive, '!remind 2d third')).toMatch(CONFIRM);
    expect(await ask(hive, '!remind 5m fourth')).toBe('you have 3 pending reminders, the most I keep per person; !forget one first');

    // Listing, in order of due time.
    const since = hive.stdout.length;
    hive.say('!reminders');
    await hive.expectOutput(/: third$/, { since });
    const listed = hive.stdout.slice(since);
    expect(listed[0]).toMatch(/^#\d+ in [\dhms]+ \(at \d{4}-\d\d-\d\d 00:00 UTC\): midnight$|^#\d+ in (1h30m|1h29m\d+s) \(at (\d{4}-\d\d-\d\d )?\d\d:\d\d(:\d\d)? UTC\): tea$/);
    expect(listed.map((l) => l.replace(/^#\d+ .*: /, ''))).toEqual(expect.arrayContaining(['midnight', 'tea', 'third']));
    expect(listed).toHaveLength(3);

    // Forgetting: the owner's number, and the different spellings.
    expect(await ask(hive, `!forget ${teaId}`)).toBe(`forgot reminder #${teaId} (tea)`);
    expect(await ask(hive, `!remind del ${teaId}`)).toBe(`you have no pending reminder #${teaId}`);
    expect(await ask(hive, '!forget one')).toBe('which one? say !forget N with the number from !reminders');
    expect(await ask(hive, '!remind 5m now there is room')).toMatch(CONFIRM);

    // Bad input: a clear answer each time, nothing stored.
    expect(await ask(hive, '!remind')).toMatch(/^say e\.g\. !remind 10m/);
    expect(await ask(hive, '!remind 10 stretch')).toMatch(/^10 what\? say 10s, 10m, 10h or 10d; say e\.g\./);
    expect(await ask(hive, '!remind soon stretch')).toMatch(/^'soon' is not a time/);
    expect(await ask(hive, '!remind 10m')).toMatch(/^remind you of what\?/);
    expect(await ask(hive, '!remind 400d far')).toBe('that is too far ahead: at most 365d (365d)');
    expect(await ask(hive, '!remind 25:00 x')).toMatch(/^25:00 is not a time of day/);
    expect(await ask(hive, '!remind 2020-01-01T00:00 x')).toMatch(/^2020-01-01T00:00 has already passed/);
    expect(await ask(hive, `!remind 5m ${'x'.repeat(51)}`)).toBe('that text is too long: at most 50 characters');

    // What is stored: exactly the 3 pending ones, with where and for whom.
    const state = JSON.parse(await readFile(join(hive.dir, 'state', 'remind', 'reminders.json'), 'utf8')) as { reminders: { nick: string; target: string; network: string; text: string }[] };
    expect(state.reminders.map((r) => r.text).sort()).toEqual(['midnight', 'now there is room', 'third']);
    expect(state.reminders.every((r) => r.nick === 'you' && r.target === '#console' && r.network === 'console')).toBe(true);
    const tree = await hive.tree();
    expect(tree.find((n) => n.name === 'remind')!.restarts).toBe(0);
  }, 40_000);

  it('keeps a confirmed reminder across a kill -9 right after the confirmation, and says late ones are late', async () => {
    hive = await startHive({ networks: terminal, plugins: [{ name: 'remind', use: 'remind' }] });
    const before = await hive.node('remind');
    expect(await ask(hive, '!remind 3s survive the crash')).toMatch(CONFIRM);
    process.kill(before.pid!, 'SIGKILL');
    await waitFor(async () => { const n = await hive!.node('remind'); return n.state === 'running' && n.pid !== before.pid && n.restarts === 1; }, { timeout: 15_000, what: 'remind restarted' });
    expect(alive(before.pid!)).toBe(false);
    await hive.expectOutput(/^you: survive the crash/, { timeout: 15_000 });
    // Once only, even though the restarted node caught up on the request by Replay.
    await sleep(1500);
    expect(hive.stdout.filter((l) => l.startsWith('you: survive the crash'))).toHaveLength(1);
    expect(hive.stdout.filter((l) => CONFIRM.test(l))).toHaveLength(1);

    // Stopped while a reminder falls due: delivered when it is back, marked late.
    const setAt = Date.now();
    expect(await ask(hive, '!remind 5s while away')).toMatch(CONFIRM);
    const stop = await hive.cli('stop', 'remind', '--config', hive.configFile);
    expect(stop.exitCode, stop.stderr).toBe(0);
    expect((await hive.node('remind')).state).toBe('stopped');
    // While it is down, wind its saved sequence numbers back, so that at start it catches up by
    // Replay on every request of this test again: none may set a second reminder.
    const seqFile = join(hive.dir, 'state', 'remind', '.hive-seq.json');
    const seqs = JSON.parse(await readFile(seqFile, 'utf8')) as Record<string, number>;
    expect(Object.keys(seqs)).toEqual(['console']);
    await writeFile(seqFile, JSON.stringify({ console: seqs.console! - 1000 }));
    // Past its time and past the 5 s of grace after which a reminder counts as late.
    await sleep(Math.max(0, setAt + 12_000 - Date.now()));
    expect(hive.stdout.some((l) => l.startsWith('you: while away'))).toBe(false);
    const start = await hive.cli('start', 'remind', '--config', hive.configFile);
    expect(start.exitCode, start.stderr).toBe(0);
    const late = await hive.expectOutput(/^you: while away/, { timeout: 15_000 });
    expect(late).toMatch(/^you: while away \(late by [\dms]+: it was due at \d\d:\d\d:\d\d UTC, I was not running\)$/);
    await hive.waitForLog((l) => l.node === 'remind' && l.msg === 'remind request seen before; not added again');
    await sleep(1500);
    expect(hive.stdout.filter((l) => l.startsWith('you: survive the crash'))).toHaveLength(1);
    expect(hive.stdout.filter((l) => l.startsWith('you: while away'))).toHaveLength(1);
    expect(hive.stdout.filter((l) => CONFIRM.test(l))).toHaveLength(2);
    // Delivered reminders leave the state file.
    await waitFor(async () => {
      const state = JSON.parse(await readFile(join(hive!.dir, 'state', 'remind', 'reminders.json'), 'utf8')) as { reminders: unknown[] };
      return state.reminders.length === 0;
    }, { what: 'empty state' });
  }, 40_000);
});

describe('remind on ngIRCd', () => {
  beforeAll(async () => { ircd = await startNgircd(); });

  it('reminds in the channel where it was asked, and in a private message when asked privately', async () => {
    const alice = await connectClient({ host: ircd!.host, port: ircd!.port, nick: 'alice' });
    clients.push(alice);
    await alice.join('#one');
    hive = await startHive({ networks: { net: ircNetwork(ircd!) }, plugins: [{ name: 'remind', use: 'remind' }] });
    await botJoined(alice, 'hivebot', '#one');

    const since = alice.mark();
    const t0 = Date.now();
    alice.say('#one', '!remind 2s channel reminder');
    await expectPrivmsg(alice, 'hivebot', '#one', CONFIRM, { since });
    alice.say('hivebot', 'remind 2s private reminder');
    await expectPrivmsg(alice, 'hivebot', 'alice', CONFIRM, { since });

    const inChannel = await expectPrivmsg(alice, 'hivebot', '#one', 'alice: channel reminder', { since, timeout: 10_000 });
    const inPrivate = await expectPrivmsg(alice, 'hivebot', 'alice', 'alice: private reminder', { since, timeout: 10_000 });
    expect(inChannel.at - t0).toBeGreaterThanOrEqual(2000);
    expect(inPrivate.at - t0).toBeGreaterThanOrEqual(2000);
    // Each went only where it was asked.
    await sleep(500);
    expect(privmsgsFrom(alice, 'hivebot', '#one', since).map((l) => l.params[1])).toEqual([expect.stringMatching(CONFIRM), 'alice: channel reminder']);
    expect(privmsgsFrom(alice, 'hivebot', 'alice', since).map((l) => l.params[1])).toEqual([expect.stringMatching(CONFIRM), 'alice: private reminder']);

    // In the channel, the private one is not shown, only counted.
    const s2 = alice.mark();
    alice.say('hivebot', 'remind 1h secret plan');
    await expectPrivmsg(alice, 'hivebot', 'alice', CONFIRM, { since: s2 });
    alice.say('#one', '!remind 2h public plan');
    await expectPrivmsg(alice, 'hivebot', '#one', CONFIRM, { since: s2 });
    const s3 = alice.mark();
    alice.say('#one', '!reminders');
    await expectPrivmsg(alice, 'hivebot', '#one', /set elsewhere/, { since: s3 });
    expect(privmsgsFrom(alice, 'hivebot', '#one', s3).map((l) => l.params[1])).toEqual([
      expect.stringMatching(/^#\d+ in (2h|1h59m\d+s) \(at (\d{4}-\d\d-\d\d )?\d\d:\d\d(:\d\d)? UTC\): public plan$/),
      '(and 1 set elsewhere; ask me in a private message to see them)',
    ]);
    alice.say('hivebot', 'reminders');
    await expectPrivmsg(alice, 'hivebot', 'alice', /public plan/, { since: s3 });
    expect(privmsgsFrom(alice, 'hivebot', 'alice', s3).map((l) => l.params[1])).toEqual([
      expect.stringMatching(/^#\d+ in (1h|59m\d+s) \(at (\d{4}-\d\d-\d\d )?\d\d:\d\d(:\d\d)? UTC\) in private: secret plan$/),
      expect.stringMatching(/^#\d+ in (2h|1h59m\d+s) \(at (\d{4}-\d\d-\d\d )?\d\d:\d\d(:\d\d)? UTC\) in #one: public plan$/),
    ]);
  }, 40_000);
});
