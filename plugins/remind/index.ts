/**
 * remind: `remind 10m TEXT` (or `remind 14:30 TEXT`, UTC) → at that time `nick: TEXT` where it
 * was asked. Pending reminders live in a crash-safe store, written before the confirmation, so a
 * confirmed reminder survives a kill -9; one due while the plugin was down is delivered (marked
 * late) when it comes back. One timer, for the earliest reminder, capped at an hour so that it
 * never meets setTimeout's 2^31 ms limit and follows wall-clock jumps.
 *
 * Delivery is at least once: a reminder leaves the store after the mouth accepted it, so a crash
 * in between (a few ms) repeats it rather than losing it.
 */
import { c, backoffDelay, HiveError, openStore, tryParseDuration, type Command, definePlugin, type PluginManifest } from '../../protocol/sdk/index.js';
import { formatClock, formatDuration, parseWhen } from './when.js';

// Kept as written (not turned into ms by c.duration()): replies quote the operator's own words.
const duration = c.custom<string | number>((s) => (typeof s === 'string' || typeof s === 'number') && (tryParseDuration(s) ?? 0) > 0, 'expected a delay such as 365d, 12h or 1h30m');

const Config = c.object({
  /** How far ahead a reminder may be set. */
  max_delay: duration.default('365d'),
  /** Pending reminders per nick and network. */
  max_pending: c.number().int().min(1).max(1000).default(25),
  /** Characters of reminder text. */
  max_text: c.number().int().min(1).max(2000).default(400),
  /** Pending reminders in all, a bound on the state file. */
  max_total: c.number().int().min(1).max(100_000).default(5000),
});
type Config = c.Infer<typeof Config>;

const manifest = {
  name: 'remind',
  kind: 'automaton',
  description: 'reminders at a delay or a time (UTC), kept across restarts',
  config: Config,
} satisfies PluginManifest;

const Reminder = c.object({
  id: c.number().int().positive(),
  network: c.string().min(1),
  /** Where it was asked: the channel, or the nick for a private message. */
  target: c.string().min(1),
  nick: c.string().min(1),
  text: c.string(),
  created: c.number(),
  due: c.number(),
  /** hive.id of the request that set it. */
  source: c.string().optional(),
});
type Reminder = c.Infer<typeof Reminder>;

const State = c.object({
  next: c.number().int().positive(),
  reminders: c.array(Reminder),
  /**
   * hive.ids of the `remind` messages already handled: after a crash the node catches up by
   * Replay from its last saved sequence number and may see the same request again.
   */
  handled: c.array(c.string()),
});
type State = c.Infer<typeof State>;

const HANDLED_MAX = 1000;
/** The longest single wait; the timer is re-armed after it (setTimeout overflows at 2^31 ms). */
const MAX_WAIT_MS = 60 * 60 * 1000;
/** Delivered later than this after its time, a reminder says it is late. */
const LATE_MS = 5000;
/** Errors after which sending again cannot help: the reminder is dropped, with a log line. */
const PERMANENT = new Set(['NetworkUnknown', 'InvalidMessage', 'InvalidArgs', 'Refused']);

const lower = (s: string) => s.toLowerCase();
const owns = (r: Reminder, network: string, nick: string) => r.network === network && lower(r.nick) === lower(nick);

export default definePlugin(manifest, async function remind(hive) {
  const config = hive.config;
  const maxDelay = tryParseDuration(config.max_delay)!;
  const store = await openStore<State>({
    stateDir: hive.stateDir,
    file: 'reminders.json',
    schema: State,
    initial: () => ({ next: 1, reminders: [], handled: [] }),
    log: hive.log,
  });

  let timer: NodeJS.Timeout | undefined;
  let firing = false;
  let stopped = false;
  /** Reminder id → when to try again after a send that failed for a passing reason. */
  const retryAt = new Map<number, number>();
  const retries = new Map<number, number>();
  /** Delivered but not yet removed from the store (the removal failed): not to be sent twice. */
  const delivered = new Set<number>();

  const readyAt = (r: Reminder) => Math.max(r.due, retryAt.get(r.id) ?? 0);

  function arm(): void {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (stopped) return;
    const pending = store.data.reminders.filter((r) => !delivered.has(r.id));
    if (!pending.length) return;
    const next = Math.min(...pending.map(readyAt));
    timer = setTimeout(() => void fire(), Math.min(Math.max(0, next - Date.now()), MAX_WAIT_MS));
  }

  async function deliver(r: Reminder): Promise<void> {
    const late = Date.now() - r.due;
    const suffix = late > LATE_MS ? ` (late by ${formatDuration(late)}: it was due at ${formatClock(r.due, Date.now(), true)}, I was not running)` : '';
    try {
      await hive.say(r.network, r.target, `${r.nick}: ${r.text}${suffix}`);
    } catch (err) {
      const code = err instanceof HiveError ? err.code : 'Failed';
      if (!PERMANENT.has(code)) {
        const n = (retries.get(r.id) ?? 0) + 1;
        retries.set(r.id, n);
        const wait = backoffDelay(n, { baseMs: 1000, maxMs: 5 * 60_000, jitter: 0 });
        retryAt.set(r.id, Date.now() + wait);
        hive.log.warn({ err, id: r.id, network: r.network, attempt: n, retryInMs: wait }, 'reminder not delivered; trying again later');
        return;
      }
      hive.log.error({ err, id: r.id, network: r.network, target: r.target }, 'reminder cannot be delivered; dropping it');
    }
    delivered.add(r.id);
    retryAt.delete(r.id);
    retries.delete(r.id);
    try {
      await store.update((d) => { d.reminders = d.reminders.filter((x) => x.id !== r.id); });
      delivered.delete(r.id);
    } catch (err) {
      // Kept in `delivered` so this run does not say it again; a restart may (at least once).
      hive.log.error({ err, id: r.id }, 'delivered reminder could not be removed from the state file');
    }
  }

  async function fire(): Promise<void> {
    if (firing || stopped) return;
    firing = true;
    try {
      const now = Date.now();
      const due = store.data.reminders.filter((r) => !delivered.has(r.id) && readyAt(r) <= now).sort((a, b) => a.due - b.due || a.id - b.id);
      for (const r of due) {
        if (stopped) break;
        await deliver(r);
      }
    } finally {
      firing = false;
      arm();
    }
  }

  const usage = `say e.g. ${hive.commandPrefix}remind 10m stretch your legs, ${hive.commandPrefix}remind 14:30 standup (UTC) or ${hive.commandPrefix}remind 2026-12-01T09:00 renew the domain`;

  function unusable(cmd: Command): boolean {
    if (!store.broken) return false;
    void cmd.reply('reminders are unavailable: my state file is unusable (see the log)');
    return true;
  }

  async function add(cmd: Command): Promise<void> {
    if (unusable(cmd)) return;
    const source = cmd.message.meta['hive.id'];
    const now = Date.now();
    // A request caught up by Replay after a crash keeps the time it was made (hive.time, when
    // plausible); a live one counts from now. (The terminal network's hive.time can be stale.)
    const said = cmd.message.meta['hive.time'];
    const replayed = cmd.message.meta['hive.replayed'] === true;
    const base = replayed && typeof said === 'number' && said <= now && said > now - 24 * 3600_000 ? said : now;
    const w = parseWhen(cmd.args, base);
    if (!w.ok) return cmd.reply(`${w.error}; ${usage}`);
    if (w.due - base > maxDelay) return cmd.reply(`that is too far ahead: at most ${config.max_delay} (${formatDuration(maxDelay)})`);
    const text = w.text.trim();
    if (!text) return cmd.reply(`remind you of what? ${usage}`);
    if ([...text].length > config.max_text) return cmd.reply(`that text is too long: at most ${config.max_text} characters`);
    const confirm = (r: Reminder) => cmd.reply(`ok, I'll remind you in ${formatDuration(r.due - base)} (at ${formatClock(r.due, base)}) [#${r.id}]`);

    if (source && store.data.handled.includes(source)) {
      // The same request again (caught up after a crash): confirm what was stored, add nothing.
      const r = store.data.reminders.find((x) => x.source === source);
      hive.log.info({ source }, 'remind request seen before; not added again');
      if (r) await confirm(r);
      return;
    }
    const mine = store.data.reminders.filter((r) => owns(r, cmd.network, cmd.nick)).length;
    if (mine >= config.max_pending) return cmd.reply(`you have ${mine} pending reminders, the most I keep per person; ${hive.commandPrefix}forget one first`);
    if (store.data.reminders.length >= config.max_total) return cmd.reply('I hold too many reminders right now; try again later');

    const r = await store.update((d) => {
      const made: Reminder = { id: d.next, network: cmd.network, target: cmd.replyTo, nick: cmd.nick, text, created: base, due: w.due, ...(source ? { source } : {}) };
      d.next += 1;
      d.reminders.push(made);
      if (source) {
        d.handled.push(source);
        if (d.handled.length > HANDLED_MAX) d.handled.splice(0, d.handled.length - HANDLED_MAX);
      }
      return made;
    });
    // Written (fsync'd) before the confirmation: a confirmed reminder is never lost.
    hive.log.info({ id: r.id, network: r.network, target: r.target, due: new Date(r.due).toISOString() }, 'reminder set');
    arm();
    await confirm(r);
  }

  function list(cmd: Command): Promise<void> {
    const now = Date.now();
    const mine = store.data.reminders.filter((r) => owns(r, cmd.network, cmd.nick) && !delivered.has(r.id)).sort((a, b) => a.due - b.due);
    // In a channel only the reminders set there: the others may have been set in private.
    const shown = cmd.isPrivate ? mine : mine.filter((r) => lower(r.target) === lower(cmd.replyTo));
    const hidden = mine.length - shown.length;
    if (!mine.length) return cmd.reply('you have no pending reminders');
    const lines = shown.map((r) => {
      const where = cmd.isPrivate ? ` in ${lower(r.target) === lower(cmd.nick) ? 'private' : r.target}` : '';
      return `#${r.id} in ${formatDuration(Math.max(0, r.due - now))} (at ${formatClock(r.due, now)})${where}: ${r.text}`;
    });
    if (hidden) lines.push(`(and ${hidden} set elsewhere; ask me in a private message to see them)`);
    return cmd.reply(lines);
  }

  async function forget(cmd: Command, arg: string): Promise<void> {
    if (unusable(cmd)) return;
    const m = /^#?(\d+)$/.exec(arg.trim());
    if (!m) return cmd.reply(`which one? say ${hive.commandPrefix}forget N with the number from ${hive.commandPrefix}reminders`);
    const id = Number(m[1]);
    const r = store.data.reminders.find((x) => x.id === id);
    if (!r || !owns(r, cmd.network, cmd.nick) || delivered.has(id)) return cmd.reply(`you have no pending reminder #${id}`);
    await store.update((d) => { d.reminders = d.reminders.filter((x) => x.id !== id); });
    retryAt.delete(id);
    retries.delete(id);
    arm();
    const text = [...r.text].length > 50 ? `${[...r.text].slice(0, 50).join('')}…` : r.text;
    return cmd.reply(`forgot reminder #${id} (${text})`);
  }

  hive.command('remind', {
    help: 'remind WHEN TEXT — says "nick: TEXT" here at WHEN: 30s, 10m, 1h30m, 2d, 14:30 (UTC, today or tomorrow), 2026-12-01T09:00 (UTC unless Z/±HH:MM)',
    examples: [['!remind 10m tea', "ok, I'll remind you in 10m (at 14:40 UTC) [#1]"], ['!remind 14:30 standup', "ok, I'll remind you in 1h50m (at 14:30 UTC) [#2]"]],
  }, (cmd) => {
    const [word, ...rest] = cmd.args.split(/\s+/);
    const sub = lower(word ?? '');
    if (['del', 'delete', 'rm', 'forget', 'cancel'].includes(sub)) return forget(cmd, rest.join(' '));
    if (sub === 'list') return list(cmd);
    if (!cmd.args) return cmd.reply(usage);
    return add(cmd);
  });
  hive.command('reminders', { help: 'reminders — lists your pending reminders (those set elsewhere only in a private message)', examples: [['!reminders', '#1 in 9m (at 14:40 UTC): tea']] }, (cmd) => list(cmd));
  hive.command('forget', { help: 'forget N — cancels your pending reminder #N (also: remind del N)', examples: [['!forget 1', 'forgot reminder #1 (tea)']] }, (cmd) => forget(cmd, cmd.args));

  const overdue = store.data.reminders.filter((r) => r.due <= Date.now()).length;
  hive.log.info({ pending: store.data.reminders.length, overdue }, 'reminders loaded');
  // Overdue ones go out at once; sending waits for the node to attach to its parent.
  arm();

  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
});
