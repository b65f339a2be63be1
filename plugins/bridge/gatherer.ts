/**
 * Gathers the lines of one multi-line room message. The mouth hands such a message on as one
 * HiveMessage per line, all with the message's hive.msgid, one right after the other; the bridge
 * wants it whole (one relay, one copy in each other room). Lines with the same key (network,
 * command, target, speaker, hive.msgid) that follow each other are gathered until none came for
 * `idleMs` (or `maxMs` from the first, or `maxLines`), then handed to `flush` as one message.
 */
import { ircLower, type Incoming } from '../../protocol/sdk/index.js';

export interface GathererOptions {
  idleMs: number;
  maxMs: number;
  maxLines: number;
}

// 80 ms: the mouth's lines of one message follow each other within a few ms; the margin is for a
// loaded machine. A part that comes later still is handled as a late part (late-parts.ts).
export const GATHER_DEFAULTS: GathererOptions = { idleMs: 80, maxMs: 1000, maxLines: 200 };

/** The key of a one-line message that may be part of a longer one; undefined when it cannot be. */
export function gatherKey(msg: Incoming): string | undefined {
  const irc = msg.irc;
  const msgid = msg.meta['hive.msgid'];
  if (!irc || msg.lines.length !== 1 || typeof msgid !== 'string' || msgid === '') return undefined;
  return [msg.network ?? '', irc.command, ircLower(irc.params[0] ?? ''), irc.nick, msgid].join('\0');
}

export class Gatherer {
  private current: { key: string; msgs: Incoming[]; started: number; timer: NodeJS.Timeout; resolve: (v: unknown) => void; done: Promise<unknown> } | undefined;

  constructor(private readonly flushTo: (msg: Incoming) => unknown, private readonly opts: GathererOptions = GATHER_DEFAULTS) {}

  /** Whether `msg` is the next line of the message being gathered. */
  continues(msg: Incoming): boolean {
    const c = this.current;
    return !!c && c.msgs.length < this.opts.maxLines && gatherKey(msg) === c.key;
  }

  /**
   * Adds `msg` (which has a gatherKey): to the message being gathered if it continues it, else as
   * the first line of a new one (the one before is flushed first). Resolves with what `flush`
   * returned for the whole message.
   */
  add(msg: Incoming, key: string): Promise<unknown> {
    const c = this.current;
    if (c && this.continues(msg)) {
      c.msgs.push(msg);
      clearTimeout(c.timer);
      c.timer = setTimeout(() => this.flush(), Math.max(0, Math.min(this.opts.idleMs, c.started + this.opts.maxMs - Date.now())));
      return c.done;
    }
    this.flush();
    let resolve!: (v: unknown) => void;
    const done = new Promise<unknown>((r) => { resolve = r; });
    this.current = { key, msgs: [msg], started: Date.now(), timer: setTimeout(() => this.flush(), this.opts.idleMs), resolve, done };
    return done;
  }

  /** Hands on the message being gathered, if any, now. */
  flush(): void {
    const c = this.current;
    if (!c) return;
    this.current = undefined;
    clearTimeout(c.timer);
    const first = c.msgs[0]!;
    const whole = c.msgs.length === 1 ? first : Object.assign({}, first, { lines: c.msgs.flatMap((m) => m.lines) });
    try {
      c.resolve(this.flushTo(whole));
    } catch (err) {
      c.resolve(Promise.reject(err));
    }
  }
}
