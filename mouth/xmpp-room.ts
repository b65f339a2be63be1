/**
 * What the XMPP network knows of one MUC room: whether it is wanted (configured, or joined by a
 * plugin's JOIN) and joined, the bot's nick there (with the alternates tried on a conflict), the
 * occupants with their IRC nicks and real JIDs where the room reveals them, and whether the room is
 * replaying its history (from our own presence until the subject, which ends it: XEP-0045 7.2.15).
 */
import { channelOfRoom, foldNick, ircSafeNick, MAX_OCCUPANTS, NickTable } from './xmpp-names.js';

/** Messages per room whose ids are remembered for corrections. */
export const MAX_SENDER_IDS = 2_000;
/** Nick changes (303) waiting for the occupant's next presence; a service that never sends it cannot grow the set past this. */
export const MAX_RENAMES = 64;

export interface Occupant {
  /** `room@service/nick`: where a private message to them goes. */
  full: string;
  /** Their real bare JID, when the room tells (non-anonymous rooms). */
  realJid?: string;
}

export class XmppRoom {
  readonly channel: string;
  /** Wanted: in the config, or joined by a plugin (and not parted since). */
  wanted = true;
  state: 'out' | 'joining' | 'in' = 'out';
  /** True between our own presence and the subject: the messages then are the room's history. */
  history = false;
  /** The bot's XMPP nick in the room, as the room has it (the service may choose it): for stanzas only. */
  nick: string;
  private tries = 0;
  /** Nobody else gets the bot's nick in the room as their IRC nick (plugins take such lines for the bot's own). */
  readonly occupants = new NickTable<Occupant>(MAX_OCCUPANTS, (folded) => folded === foldNick(this.ircNick));
  /** New XMPP nicks announced by a nick change (303), whose next presence is no join. */
  private readonly renames = new Set<string>();
  /** When the last message of the room was heard (its delay stamp, else our clock): a rejoin asks only for history after it. */
  lastSeen: number | undefined;
  /** lastSeen when this join began: history up to it is not handed on again. */
  seenBefore: number | undefined;

  /** The bot's nick in the room as lines carry it: the room's choice made IRC-safe (no space, CR, LF, `!` or `@`). */
  get ircNick(): string { return ircSafeNick(this.nick); }

  /** A nick change to `nick` was announced (303): its next presence is no join. */
  renamed(nick: string): void {
    this.renames.delete(nick);
    this.renames.add(nick);
    if (this.renames.size > MAX_RENAMES) this.renames.delete(this.renames.keys().next().value!);
  }

  /** True (once) when `nick` was announced by a nick change. */
  takeRename(nick: string): boolean { return this.renames.delete(nick); }

  get pendingRenames(): number { return this.renames.size; }
  /** Join attempts waiting for the outcome (resolved on our presence or an error). */
  private waiters: (() => void)[] = [];
  rejoinTimer: NodeJS.Timeout | undefined;
  /** Joins the room refused in a row (a wrong password, a ban): each next try waits longer. */
  refusals = 0;
  /** `nick\0id the sender gave` → the room's stanza-id, for the last messages: a correction names the former, hive.replaces the latter. */
  private readonly senderIds = new Map<string, string>();

  /**
   * Remembers which room stanza-id a sender's own message id got (the last MAX_SENDER_IDS), also
   * when they are the same: a correction is taken only for an id the corrector sent.
   */
  rememberId(nick: string, senderId: string, msgid: string): void {
    this.senderIds.set(`${nick}\0${senderId}`, msgid);
    if (this.senderIds.size > MAX_SENDER_IDS) this.senderIds.delete(this.senderIds.keys().next().value!);
  }

  /** The room's stanza-id → the id the bot sent its own message under, for its last messages. */
  private readonly ownIds = new Map<string, string>();

  /** Remembers the room's id of one of the bot's own messages (seen as the room echoes it). */
  rememberOwn(stanzaId: string, ownId: string): void {
    if (stanzaId === ownId) return;
    this.ownIds.set(stanzaId, ownId);
    if (this.ownIds.size > MAX_SENDER_IDS) this.ownIds.delete(this.ownIds.keys().next().value!);
  }

  /** The id the bot gave its message that the room knows as `stanzaId`: what its plugins know it by (hive.msgid). */
  ownIdOf(stanzaId: string): string | undefined {
    return this.ownIds.get(stanzaId);
  }

  /** The room's id of the message `nick` sent under `senderId`, if remembered: undefined for someone else's message. */
  msgidOf(nick: string, senderId: string): string | undefined {
    return this.senderIds.get(`${nick}\0${senderId}`);
  }

  /** In the config's `rooms` (else joined by a plugin's JOIN): `hive reload` may take it off the list. */
  configured: boolean;

  constructor(readonly jid: string, readonly baseNick: string, public password?: string, configured = true) {
    this.configured = configured;
    this.channel = channelOfRoom(jid);
    this.nick = baseNick;
  }

  /** The next nick to try after a conflict (409): nick_, nick__, then nick and a number; undefined when all were tried. */
  nextNick(): string | undefined {
    const candidates = [`${this.baseNick}_`, `${this.baseNick}__`, `${this.baseNick.slice(0, 28)}${Math.floor(Math.random() * 1000)}`];
    const next = candidates[this.tries++];
    if (next) this.nick = next;
    return next;
  }

  /** A fresh join: our first nick again, nobody known yet. */
  reset(): void {
    this.state = 'out';
    this.history = false;
    this.nick = this.baseNick;
    this.tries = 0;
    this.occupants.clear();
    this.renames.clear();
  }

  /** Resolves once this join attempt has an outcome (joined or failed), or after `ms`. */
  settled(ms: number): Promise<void> {
    if (this.state === 'in') return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.waiters.push(() => { clearTimeout(t); resolve(); });
    });
  }

  settle(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}
