/**
 * The copies the bridge sent to rooms lately, waiting for the room to reflect them: a room that
 * stamps its own id on each message (XEP-0359 stanza-id, e.g. Prosody with muc_mam) reflects our
 * copy with that id, and its clients reply to the copy by it. The reflection carries no id of
 * ours (the mouth's hive.msgid is the room's), so it is matched by its text: the oldest copy with
 * the same first line in that room. Bounded per room and in age. Pure.
 */
export class RoomStamps<T> {
  private readonly byRoom = new Map<string, { text: string; item: T; at: number }[]>();

  constructor(private readonly ttlMs: number, private readonly maxPerRoom = 100) {}

  /** A copy with first line `text` was sent to `room`. */
  sent(room: string, text: string, item: T, now: number): void {
    const list = this.fresh(room, now);
    list.push({ text, item, at: now });
    if (list.length > this.maxPerRoom) list.splice(0, list.length - this.maxPerRoom);
    this.byRoom.set(room, list);
  }

  /** The copy the room just reflected with first line `text`, if one waits (it waits no more). */
  reflected(room: string, text: string, now: number): T | undefined {
    const list = this.fresh(room, now);
    const i = list.findIndex((c) => c.text === text);
    if (i === -1) return undefined;
    return list.splice(i, 1)[0]!.item;
  }

  private fresh(room: string, now: number): { text: string; item: T; at: number }[] {
    const list = (this.byRoom.get(room) ?? []).filter((c) => now - c.at < this.ttlMs);
    if (list.length === 0) this.byRoom.delete(room);
    else this.byRoom.set(room, list);
    return list;
  }
}
