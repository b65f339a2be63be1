/**
 * What the mouth has sent, to recognise a second copy of it, bounded. Two ways a copy comes
 * (docs/protocol.md#replay-and-sequence-numbers), both marked hive.replayed:
 *
 * - A node caught up by Replay after a restart answers a message its previous run had answered:
 *   a new reply (a new hive.id) to the same message. Keyed by (verified child, claimed origin, id
 *   answered, network); the network because one message may rightly be answered on several (the
 *   bridge).
 * - A node whose Send was pending when its parent died sends the same message (its own hive.id)
 *   again through its next parent: the dead parent may have passed it on before dying. That next
 *   parent is often another child of the mouth (b under f1, f1 killed: b itself; d under f2 under
 *   f1: f2), so the child it came through cannot be part of the key; the message's own id is.
 *   Keyed by (claimed origin, hive.id, network), remembering the child connection it came through.
 *
 * The second survives a kill -9 of the mouth through SentJournal below: a Send pending when the
 * mouth died is sent again to the next mouth, and the old one may have written it to the server
 * before it could answer (the chaos test answered b:173 twice so: the old mouth wrote it and was
 * killed some 10 ms later, under load, still without an answer to the Send).
 *
 * AnsweredSet is pure, no I/O; what is attached is asked of the caller.
 */
import { closeSync, openSync, readSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export interface SentMessage {
  /** The verified direct child it came through: its node name and its bus connection. */
  via: string;
  conn: string;
  /** hive.origin (the child's claim about its subtree), hive.id, hive.reply_to, hive.network. */
  origin: string;
  id: string | undefined;
  replyTo: string | undefined;
  network: string;
  replayed: boolean;
}

/**
 * Why a message is a second copy: a second answer to a replayed message, the same message sent
 * again, or sent again to this mouth when the previous one had begun to send it (SentJournal).
 */
export type Duplicate = 'answer' | 'resent' | 'resent_after_restart';

export class AnsweredSet {
  private readonly answers = new Set<string>();
  /** (origin, hive.id, network) → the child connection the message came through, and whether the previous mouth sent it. */
  private readonly sent = new Map<string, { conn: string; before: boolean }>();

  /**
   * `maxAnswers`: replies remembered (a restart's catch-up reaches back up to 512 messages).
   * `maxSent`: messages remembered by their own id; a resend comes within seconds (each hop's
   * 10 s wait for a next parent), so this covers a minute at 150 messages a second.
   */
  constructor(private readonly maxAnswers = 20_000, private readonly maxSent = 10_000) {}

  /**
   * Whether the message is a second copy of one sent, and which kind; undefined when it is not.
   * `attached(conn)`: whether that child connection is still attached to the mouth.
   */
  duplicate(m: SentMessage, attached: (conn: string) => boolean): Duplicate | undefined {
    if (!m.replayed) return undefined;
    if (m.id !== undefined) {
      const first = this.sent.get(idKey(m.origin, m.id, m.network));
      // The same message again: through the same child (a deeper node died), or through another
      // child after the first one went (the dead parent was the mouth's own child). Not when the
      // first copy came through a child still attached: a node can only know a message's id by
      // carrying it, so that would be a node reusing ids it once carried (it was an ancestor of
      // the sender) to shadow that sender's resends; those are sent.
      if (first !== undefined && (first.conn === m.conn || !attached(first.conn))) return first.before ? 'resent_after_restart' : 'resent';
    }
    if (m.replyTo !== undefined) {
      // The child the reply came through is part of the key: a node claiming another's origin
      // cannot make that node's replayed answer look like a duplicate (issue 14 item 9).
      // Also a duplicate: the same node answered it earlier as the mouth's own child (its origin
      // then verified by the mouth itself), and answers the replay through a parent it was moved
      // back under (kill -9 of a filter, then of the node). Nobody but that node can have made that
      // key, so it shadows nothing.
      if (this.answers.has(answerKey(m, m.via, m.replyTo)) || this.answers.has(answerKey(m, m.origin, m.replyTo))) return 'answer';
    }
    return undefined;
  }

  /** Takes back what the previous run of the mouth sent (SentJournal), oldest first. */
  restore(entries: Iterable<SentEntry>): void {
    for (const [origin, id, network, conn] of entries) {
      const key = idKey(origin, id, network);
      this.sent.delete(key);
      this.sent.set(key, { conn, before: true });
      if (this.sent.size > this.maxSent) this.sent.delete(this.sent.keys().next().value!);
    }
  }

  /** Remembers a message that was sent (accepted by the network: one refused was not, and may come again). */
  remember(m: SentMessage): void {
    if (m.replyTo !== undefined) {
      const key = answerKey(m, m.via, m.replyTo);
      if (!this.answers.has(key)) {
        this.answers.add(key);
        if (this.answers.size > this.maxAnswers) this.answers.delete(this.answers.values().next().value!);
      }
    }
    if (m.id !== undefined) {
      const key = idKey(m.origin, m.id, m.network);
      if (!this.sent.has(key)) {
        this.sent.set(key, { conn: m.conn, before: false });
        if (this.sent.size > this.maxSent) this.sent.delete(this.sent.keys().next().value!);
      }
    }
  }
}

/** What the journal keeps of a message sent: [origin, hive.id, network, child connection]. */
export type SentEntry = [origin: string, id: string, network: string, conn: string];

const answerKey = (m: SentMessage, via: string, replyTo: string) => `${via}\0${m.origin}\0${replyTo}\0${m.network}`;
const idKey = (origin: string, id: string, network: string) => `${origin}\0${id}\0${network}`;

/** Bytes read of one journal file at most (a file is at most `perFile` lines of at most ~400 bytes). */
const JOURNAL_READ_MAX = 4 * 1024 * 1024;
/** This run's file, and the one before it. */
const CURRENT = 'sent-ids.0';
const OLDER = 'sent-ids.1';

/**
 * The ids of what the mouth sent, in its state dir, for its next run. One line a message (JSON, so
 * no id can forge a line), written before the network writes it — also for one it then refuses,
 * whose resend to the next mouth is held back too — with a plain write: the page cache outlives a killed process, and no fsync (a machine that crashes
 * drops the connections too). Only the last seconds matter — a node waits at most 10 s for its next
 * parent before it gives a resend up — so two files of at most `perFile` lines, the older dropped
 * at each turn. What cannot be read or written is logged once and the mouth goes on without it.
 */
export class SentJournal {
  private fd: number | undefined;
  private lines = 0;
  private failed = false;

  constructor(private readonly dir: string, private readonly onError: (err: unknown, what: string) => void, private readonly perFile = 5000) {}

  /** Reads what the previous run wrote (oldest first), then starts this run's file. */
  open(): SentEntry[] {
    const entries: SentEntry[] = [];
    for (const name of [OLDER, CURRENT]) {
      for (const line of this.read(join(this.dir, name))) {
        const e = parseEntry(line);
        if (e) entries.push(e);
      }
    }
    // The previous run's last file becomes the older one; its older one goes.
    try { renameSync(join(this.dir, CURRENT), join(this.dir, OLDER)); } catch { /* none yet */ }
    this.start();
    return entries;
  }

  /** Notes a message the network took. */
  record(origin: string, id: string, network: string, conn: string): void {
    if (this.fd === undefined) return;
    try {
      writeSync(this.fd, `${JSON.stringify([origin, id, network, conn])}\n`);
    } catch (err) {
      this.fail(err, 'write');
      return;
    }
    if (++this.lines >= this.perFile) {
      closeSync(this.fd);
      this.fd = undefined;
      try { renameSync(join(this.dir, CURRENT), join(this.dir, OLDER)); } catch (err) { this.fail(err, 'turn'); return; }
      this.start();
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private start(): void {
    try {
      this.fd = openSync(join(this.dir, CURRENT), 'w', 0o600);
      this.lines = 0;
    } catch (err) {
      this.fail(err, 'open');
    }
  }

  private read(path: string): string[] {
    let fd: number;
    try { fd = openSync(path, 'r'); } catch { return []; }
    try {
      const buf = Buffer.alloc(JOURNAL_READ_MAX);
      let n = 0;
      for (let r; n < buf.length && (r = readSync(fd, buf, n, buf.length - n, n)) > 0;) n += r;
      return buf.subarray(0, n).toString('utf8').split('\n');
    } catch (err) {
      this.fail(err, 'read');
      return [];
    } finally {
      closeSync(fd);
    }
  }

  private fail(err: unknown, what: string): void {
    if (!this.failed) this.onError(err, what);
    this.failed = true;
  }
}

/** A journal line back to its entry; anything else (a line cut by a crash, a file edited by hand) is undefined. */
function parseEntry(line: string): SentEntry | undefined {
  if (!line) return undefined;
  let v: unknown;
  try { v = JSON.parse(line); } catch { return undefined; }
  if (!Array.isArray(v) || v.length !== 4 || !v.every((x) => typeof x === 'string' && x.length <= 256)) return undefined;
  return v as SentEntry;
}
