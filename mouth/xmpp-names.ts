/**
 * XMPP names as IRC names, both ways (docs/protocol.md, "XMPP"): a MUC room `room@conference.host`
 * is the channel `#room@conference.host`; an occupant's room nick or a user's JID localpart
 * becomes an IRC-safe nick (characters IRC cannot carry replaced, bounded, made unique), and a
 * table per room, and one for direct chats, maps each back to whom it stands for. Pure, no I/O.
 */

/** The longest nick we make (nickSchema's bound). */
export const MAX_NICK = 32;
/** Direct-chat partners remembered (the oldest forgotten first). */
export const MAX_CONTACTS = 10_000;
/** Occupants remembered per room (a room that reports more is hostile or huge: the rest get no table entry). */
export const MAX_OCCUPANTS = 5_000;

const NICK_CHAR = /[A-Za-z0-9[\]\\`_^{|}-]/;

/** `room@conference.host` → `#room@conference.host` (lower case: JIDs' local and domain parts are case-insensitive). */
export function channelOfRoom(room: string): string {
  return `#${room.toLowerCase()}`;
}

/** `#room@conference.host` → `room@conference.host`; undefined for anything that is not such a channel. */
export function roomOfChannel(channel: string): string | undefined {
  if (!channel.startsWith('#')) return undefined;
  const room = channel.slice(1).toLowerCase();
  return /^[^\s"&'/:<>@]{1,256}@[^\s"&'/:<>@]{1,256}$/.test(room) ? room : undefined;
}

/** An IRC-safe nick for any XMPP nick or localpart: other characters become `_`, a leading digit or `-` gets a `_` before it, at most MAX_NICK. */
export function ircSafeNick(name: string): string {
  let out = '';
  for (const ch of name) {
    out += NICK_CHAR.test(ch) ? ch : '_';
    if (out.length >= MAX_NICK) break;
  }
  if (out === '') out = '_';
  if (/^[0-9-]/.test(out)) out = `_${out}`.slice(0, MAX_NICK);
  return out;
}

/** A `user` or `host` part of an IRC prefix from a JID part: no space, `!`, `@` or control character; bounded. */
export function maskPart(s: string, max = 64): string {
  const safe = s.replace(/[\s!@\p{Cc}]/gu, '_');
  return (safe || '_').slice(0, max);
}

/** The IRC rfc1459 case folding, which plugins use to compare nicks. */
export function foldNick(nick: string): string {
  return nick.toLowerCase().replace(/\[/g, '{').replace(/\]/g, '}').replace(/\\/g, '|').replace(/\^/g, '~');
}

/**
 * IRC nicks for names of one namespace (a room's occupants, or direct-chat partners): a name keeps
 * its nick while known; a second name that would get the same nick gets a number after it.
 * Bounded: past `max` the oldest entry is forgotten.
 */
export class NickTable<V> {
  /** folded nick → { name, nick, value } */
  private readonly byNick = new Map<string, { name: string; nick: string; value: V }>();
  /** name → nick */
  private readonly byName = new Map<string, string>();

  /** @param reserved nicks no one else may get (the bot's own), asked with the folded nick. */
  constructor(private readonly max: number, private readonly reserved: (folded: string) => boolean = () => false) {}

  get size(): number { return this.byName.size; }

  /** The IRC nick of `name` (made now if new, from `base`: by default the name itself), with `value` stored for it. */
  nickFor(name: string, value: V, base = name): string {
    const known = this.byName.get(name);
    if (known !== undefined) {
      const e = this.byNick.get(foldNick(known))!;
      e.value = value;
      // Refreshed: the most recently used are kept longest.
      this.byName.delete(name);
      this.byName.set(name, known);
      return known;
    }
    const safe = ircSafeNick(base);
    let nick = safe;
    const taken = (n: string) => this.byNick.has(foldNick(n)) || this.reserved(foldNick(n));
    for (let i = 2; taken(nick); i++) nick = `${safe.slice(0, MAX_NICK - String(i).length)}${i}`;
    this.byNick.set(foldNick(nick), { name, nick, value });
    this.byName.set(name, nick);
    if (this.byName.size > this.max) this.forget(this.byName.keys().next().value!);
    return nick;
  }

  /** The nick `name` has, if any. */
  nickOf(name: string): string | undefined {
    return this.byName.get(name);
  }

  /** Who an IRC nick stands for. */
  lookup(nick: string): { name: string; nick: string; value: V } | undefined {
    return this.byNick.get(foldNick(nick));
  }

  forget(name: string): void {
    const nick = this.byName.get(name);
    if (nick === undefined) return;
    this.byName.delete(name);
    this.byNick.delete(foldNick(nick));
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  entries(): { name: string; nick: string; value: V }[] {
    return [...this.byNick.values()];
  }

  clear(): void {
    this.byNick.clear();
    this.byName.clear();
  }
}
