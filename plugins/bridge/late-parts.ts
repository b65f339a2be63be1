/**
 * The whole text of the room messages relayed in the last few seconds, by (place, id): the mouth
 * hands a multi-line message on one line at a time, and a line that comes after a pause longer
 * than the gatherer waits is a late part of a message already relayed. The bridge then corrects
 * its copies with the whole text so far instead of relaying a second message with the same id.
 * Bounded: few messages, for a short while, and a message's lines and bytes capped. Pure.
 */
export interface Whole {
  bodies: Buffer[];
  bytes: number;
  /** Lines already sent to IRC for it (each IRC channel gets only the late part, within max_lines). */
  ircLines: number;
  at: number;
}

export const LATE_PARTS = { maxMessages: 32, ttlMs: 10_000, maxLines: 200, maxBytes: 64 * 1024 };

export class LateParts {
  private readonly byKey = new Map<string, Whole>();

  constructor(private readonly opts = LATE_PARTS) {}

  /** Records a message just relayed whole (bodies as relayed, lines sent to IRC). */
  remember(where: string, msgid: string, bodies: Buffer[], ircLines: number, now: number): void {
    this.prune(now);
    const k = `${where}\0${msgid}`;
    this.byKey.delete(k);
    this.byKey.set(k, { bodies: [...bodies], bytes: bodies.reduce((n, b) => n + b.length, 0), ircLines, at: now });
    while (this.byKey.size > this.opts.maxMessages) this.byKey.delete(this.byKey.keys().next().value!);
  }

  /**
   * Adds a late part to the message with id `msgid` in `where`, if it is remembered: the whole so
   * far, or 'full' when the part would pass the caps (it is then not added).
   */
  append(where: string, msgid: string, part: Buffer[], now: number): Whole | 'full' | undefined {
    this.prune(now);
    const w = this.byKey.get(`${where}\0${msgid}`);
    if (!w) return undefined;
    const bytes = part.reduce((n, b) => n + b.length, 0);
    if (w.bodies.length + part.length > this.opts.maxLines || w.bytes + bytes > this.opts.maxBytes) return 'full';
    w.bodies.push(...part);
    w.bytes += bytes;
    return w;
  }

  private prune(now: number): void {
    for (const [k, w] of this.byKey) {
      if (now - w.at < this.opts.ttlMs) break;
      this.byKey.delete(k);
    }
  }
}
