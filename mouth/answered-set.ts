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
 * Pure, no I/O; what is attached is asked of the caller.
 */

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

/** Why a message is a second copy: a second answer to a replayed message, or the same message sent again. */
export type Duplicate = 'answer' | 'resent';

export class AnsweredSet {
  private readonly answers = new Set<string>();
  /** (origin, hive.id, network) → the child connection the message came through. */
  private readonly sent = new Map<string, string>();

  /**
   * `maxAnswers`: replies remembered (a restart's catch-up reaches back up to 512 messages).
   * `maxSent`: messages remembered by their own id; a resend comes within seconds (each hop's
   * 10 s wait for a next parent), so this covers a minute at 150 messages a second.
   */
  constructor(private readonly maxAnswers = 20_000, private readonly maxSent = 10_000) {}

  /**
   * Records the message and returns undefined, or returns what duplicate it is (not recorded).
   * `attached(conn)`: whether that child connection is still attached to the mouth.
   */
  admit(m: SentMessage, attached: (conn: string) => boolean): Duplicate | undefined {
    const idKey = m.id === undefined ? undefined : `${m.origin}\0${m.id}\0${m.network}`;
    if (m.replayed && idKey !== undefined) {
      const first = this.sent.get(idKey);
      // The same message again: through the same child (a deeper node died), or through another
      // child after the first one went (the dead parent was the mouth's own child). Not when the
      // first copy came through a child still attached: a node can only know a message's id by
      // carrying it, so that would be a node reusing ids it once carried (it was an ancestor of
      // the sender) to shadow that sender's resends; those are sent.
      if (first !== undefined && (first === m.conn || !attached(first))) return 'resent';
    }
    if (m.replyTo !== undefined) {
      // The child the reply came through is part of the key: a node claiming another's origin
      // cannot make that node's replayed answer look like a duplicate (issue 14 item 9).
      const key = `${m.via}\0${m.origin}\0${m.replyTo}\0${m.network}`;
      // Also a duplicate: the same node answered it earlier as the mouth's own child (its origin
      // then verified by the mouth itself), and answers the replay through a parent it was moved
      // back under (kill -9 of a filter, then of the node). Nobody but that node can have made that
      // key, so it shadows nothing.
      const asItself = `${m.origin}\0${m.origin}\0${m.replyTo}\0${m.network}`;
      if (m.replayed && (this.answers.has(key) || this.answers.has(asItself))) return 'answer';
      if (!this.answers.has(key)) {
        this.answers.add(key);
        if (this.answers.size > this.maxAnswers) this.answers.delete(this.answers.values().next().value!);
      }
    }
    if (idKey !== undefined && !this.sent.has(idKey)) {
      this.sent.set(idKey, m.conn);
      if (this.sent.size > this.maxSent) this.sent.delete(this.sent.keys().next().value!);
    }
    return undefined;
  }
}
