/**
 * notes: numbered notes per channel and network, kept in one JSON state file. Every change is on
 * disk (fsync) before the bot confirms it, so a confirmed note survives a kill -9 right after.
 * In a private message, the notes are that user's own (by services account when there is one).
 *
 * A message can reach the plugin twice: after a crash the node replays what it may have missed.
 * A note remembers the hive.id of the message that added it, so a replayed `note add` answers
 * with the same number instead of adding the note again.
 */
import { c, hasCapability, HiveError, ircLower, openStore, type Command, definePlugin, type Store, type PluginManifest } from '../../protocol/sdk/index.js';

const Config = c.object({
  /** Most notes one channel (or one user's private notes) may hold. */
  max_notes: c.number().int().min(1).max(100_000).default(1000),
  /** Longest note, in characters. */
  max_length: c.number().int().min(1).max(4000).default(400),
  /** How many notes `notes` shows (the newest). */
  list_lines: c.number().int().min(1).max(50).default(10),
}).strict();
type Config = c.Infer<typeof Config>;

export const DELETE_CAPABILITY = 'notes.delete';

const manifest = {
  name: 'notes',
  kind: 'responder',
  description: 'Numbered notes per channel, persistent.',
  config: Config,
} satisfies PluginManifest;

const Note = c.object({
  n: c.number().int().positive(),
  text: c.string(),
  nick: c.string(),
  /** The author's services account, when the server told it; then it, not the nick, proves authorship. */
  account: c.string().optional(),
  time: c.number(),
  /** hive.id of the message that added it (to recognise a replay). */
  src: c.string().optional(),
});
type Note = c.Infer<typeof Note>;

const Scope = c.object({ next: c.number().int().positive(), notes: c.array(Note) });
const State = c.object({ version: c.literal(1), scopes: c.record(c.string(), Scope) });
type State = c.Infer<typeof State>;

/** Where a command's notes live: the channel on its network, or the user for a private message. */
function scopeOf(cmd: Command): string {
  if (!cmd.isPrivate) return `${cmd.network} ${ircLower(cmd.target)}`;
  const account = cmd.message.meta['hive.account'];
  return account ? `${cmd.network} account:${account}` : `${cmd.network} nick:${ircLower(cmd.nick)}`;
}

const pad = (n: number) => String(n).padStart(2, '0');
function date(ms: number, withTime = true): string {
  const d = new Date(ms);
  const day = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  return withTime ? `${day} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} UTC` : day;
}

function cut(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : chars.slice(0, max - 1).join('') + '…';
}

/** `3` or `#3` → 3; anything else (0, negative, huge, words) → undefined. */
function noteNumber(s: string): number | undefined {
  const m = /^#?(\d{1,9})$/.exec(s);
  const n = m ? Number(m[1]) : 0;
  return n >= 1 ? n : undefined;
}

export default definePlugin(manifest, async function notes(hive) {
  const config = hive.config;
  const store: Store<State> = await openStore({ stateDir: hive.stateDir, file: 'notes.json', schema: State, initial: () => ({ version: 1, scopes: {} }), log: hive.log });
  const p = hive.commandPrefix;

  /** Replies the store's trouble if it has any; true when the command must stop there. */
  const unusable = async (cmd: Command): Promise<boolean> => {
    if (!store.broken) return false;
    hive.log.error({ file: store.file, reason: store.broken, nick: cmd.nick }, 'notes state file unusable; refusing the command and leaving the file as it is');
    await cmd.reply('notes are unavailable: their state file is damaged and is left untouched; an operator must repair or move it (see the log)');
    return true;
  };

  /** Runs a change; a failed write is logged and told to the user instead of crashing the command. */
  const change = async <R>(cmd: Command, fn: (d: State) => R): Promise<R | undefined> => {
    try {
      return await store.update(fn);
    } catch (err) {
      hive.log.error({ err, file: store.file }, 'could not save notes');
      await cmd.reply(`could not save: ${err instanceof HiveError ? 'the state file is unusable' : 'a write error'} (see the log); nothing was changed`);
      return undefined;
    }
  };

  const gone = (scope: string, n: number) => {
    const s = store.data.scopes[scope];
    return s && n < s.next ? `note ${n} was deleted` : `there is no note ${n} here`;
  };

  const add = async (cmd: Command, text: string) => {
    if (!text) return cmd.reply(`usage: ${p}note add TEXT (the note cannot be empty)`);
    const len = Array.from(text).length;
    if (len > config.max_length) return cmd.reply(`that note is too long (${len} characters; at most ${config.max_length})`);
    const scope = scopeOf(cmd);
    const src = cmd.message.meta['hive.id'];
    const account = cmd.message.meta['hive.account'];
    const r = await change(cmd, (d) => {
      const s = (d.scopes[scope] ??= { next: 1, notes: [] });
      const again = src ? s.notes.find((x) => x.src === src) : undefined;
      if (again) return { n: again.n };
      if (s.notes.length >= config.max_notes) return { full: true as const };
      const note: Note = { n: s.next++, text, nick: cmd.nick, time: cmd.message.meta['hive.time'] ?? Date.now() };
      if (account) note.account = account;
      if (src) note.src = src;
      s.notes.push(note);
      return { n: note.n };
    });
    if (!r) return;
    if ('full' in r) return cmd.reply(`there are already ${config.max_notes} notes here, the most there can be; delete some first (${p}note del N)`);
    return cmd.reply(`note ${r.n} added`);
  };

  const show = (cmd: Command, n: number) => {
    const scope = scopeOf(cmd);
    const note = store.data.scopes[scope]?.notes.find((x) => x.n === n);
    if (!note) return cmd.reply(gone(scope, n));
    return cmd.reply(`note ${n} by ${note.nick}, ${date(note.time)}: ${note.text}`);
  };

  const del = async (cmd: Command, arg: string) => {
    const n = noteNumber(arg);
    if (n === undefined) return cmd.reply(arg ? `'${cut(arg, 20)}' is not a note number; usage: ${p}note del N` : `usage: ${p}note del N`);
    const scope = scopeOf(cmd);
    const note = store.data.scopes[scope]?.notes.find((x) => x.n === n);
    if (!note) return cmd.reply(gone(scope, n));
    const account = cmd.message.meta['hive.account'];
    // The author is known by account if the note has one (a nick can be taken by anyone), else by nick.
    const isAuthor = note.account !== undefined ? account === note.account : ircLower(cmd.nick) === ircLower(note.nick);
    if (!isAuthor && !hasCapability(cmd.message.meta, DELETE_CAPABILITY)) {
      const author = note.account !== undefined ? `${note.nick}, logged in as ${note.account}` : note.nick;
      return cmd.reply(`you cannot delete note ${n}: only its author (${author}) or someone with the ${DELETE_CAPABILITY} capability can`);
    }
    const r = await change(cmd, (d) => {
      const s = d.scopes[scope];
      const i = s ? s.notes.findIndex((x) => x.n === n) : -1;
      if (!s || i < 0) return false;
      s.notes.splice(i, 1);
      return true;
    });
    if (r === undefined) return;
    return cmd.reply(r ? `note ${n} deleted` : gone(scope, n));
  };

  // `note add` and `note del` are words of `note`: listed by help on their own, answered by `note`.
  hive.command('note add', { help: 'note add TEXT — keeps TEXT as a note of this channel and says its number', examples: [['!note add deploy on friday', 'note 1 added']] });
  hive.command('note', { help: 'note N — shows note N with its author and date', examples: [['!note 1', 'note 1 by alice, 2025-01-31 14:05 UTC: deploy on friday']] }, async (cmd) => {
    if (await unusable(cmd)) return;
    const m = /^(\S*)\s*([\s\S]*)$/.exec(cmd.args)!;
    const word = m[1]!.toLowerCase();
    const rest = m[2]!.trim();
    if (word === 'add') return add(cmd, rest);
    if (word === 'del' || word === 'delete' || word === 'rm') return del(cmd, rest);
    if (!word) return cmd.reply(`usage: ${p}note add TEXT | ${p}note N | ${p}note del N | ${p}notes`);
    const n = noteNumber(word);
    if (n === undefined || rest) return cmd.reply(`'${cut(cmd.args, 20)}' is not a note number; usage: ${p}note N, ${p}note add TEXT or ${p}note del N`);
    return show(cmd, n);
  });

  hive.command('note del', { help: `note del N — deletes note N (its author, or someone with the ${DELETE_CAPABILITY} capability)`, examples: [['!note del 1', 'note 1 deleted']] });

  hive.command('notes', { help: 'notes — lists the newest notes of this channel and how many there are', examples: [['!notes', '1 note:\n#1 alice, 2025-01-31: deploy on friday']] }, async (cmd) => {
    if (await unusable(cmd)) return;
    const list = store.data.scopes[scopeOf(cmd)]?.notes ?? [];
    if (list.length === 0) return cmd.reply(`no notes here yet; add one with ${p}note add TEXT`);
    const shown = list.slice(-config.list_lines);
    const head = list.length === 1 ? '1 note:' : list.length <= shown.length ? `${list.length} notes:` : `${list.length} notes; the newest ${shown.length}:`;
    return cmd.reply([head, ...shown.map((x) => `#${x.n} ${x.nick}, ${date(x.time, false)}: ${cut(x.text, 100)}`)]);
  });
});
