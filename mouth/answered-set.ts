/**
 * The replies the mouth has sent, by (verified child, claimed origin, id answered, network), bounded: a node that was caught
 * up by Replay after a restart may answer a message its previous run already answered, and such
 * a reply (marked hive.replayed) is sent only if the message was not answered yet. The network is
 * part of the key because one message may rightly be answered on several (the bridge). Pure, no I/O.
 */
export class AnsweredSet {
  private readonly keys = new Set<string>();

  constructor(private readonly max = 20_000) {}

  /** Records the reply; returns false when it duplicates a reply to a replayed message. */
  admit(via: string, origin: string, replyTo: string, replayed: boolean, network = ''): boolean {
    // The child the reply came through is part of the key: a node claiming another's origin
    // cannot make that node's replayed answer look like a duplicate.
    const key = `${via}\0${origin}\0${replyTo}\0${network}`;
    // Also a duplicate: the same node answered it earlier as the mouth's own child (its origin then
    // verified by the mouth itself), and answers the replay through a parent it was moved back
    // under (kill -9 of a filter, then of the node: the chaos test). Nobody but that node can have
    // made that key, so it shadows nothing.
    const asItself = `${origin}\0${origin}\0${replyTo}\0${network}`;
    if (replayed && (this.keys.has(key) || this.keys.has(asItself))) return false;
    if (!this.keys.has(key)) {
      this.keys.add(key);
      if (this.keys.size > this.max) this.keys.delete(this.keys.values().next().value!);
    }
    return true;
  }
}
