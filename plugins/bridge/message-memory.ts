/**
 * The messages the bridge saw or relayed lately, so that a reply or a correction on a network that
 * has message ids (XMPP) can be shown with what it refers to, and passed on as a reply to, or a
 * correction of, the right copy in each other room. One entry per message said somewhere in a
 * group: who said it, its text (bounded), and the id it has in each place it went (the original
 * id where it was said, the bridge's own id for each copy it relayed). Bounded in count and age;
 * the oldest are forgotten first. Pure.
 */
import { ircLower } from '../../protocol/sdk/index.js';

/** Characters of a message's text kept for quotes and corrections; a longer text is cut and marked. */
export const MAX_REMEMBERED_TEXT = 400;
/** Ids one entry may hold: one per place it was relayed to, plus a few for its corrections. */
const MAX_IDS_PER_ENTRY = 32;

export interface Remembered {
  /** The speaker, as the network named them. */
  nick: string;
  /** The speaker's account (hive.account: services account, or a room's real JID), where known. */
  account?: string;
  /** How it was said (message, action, notice), for a correction to say it the same way. */
  kind?: string;
  /** The endpoint key of the place it was said. */
  readonly where: string;
  /** The text as readers see it (no formatting codes), lines joined by "\n", at most MAX_REMEMBERED_TEXT characters. */
  text: string;
  /** The text was longer than what is kept: no s/old/new/ can be worked out from it. */
  truncated: boolean;
  /** endpoint key → the message's id there. */
  readonly ids: Map<string, string>;
  readonly at: number;
  /** The (endpoint, nick) key it is the latest line of, if it is. */
  lastKey?: string;
  /** Every id key that finds it (its ids and its corrections' own ids), to forget them with it. */
  readonly keys: string[];
}

export interface MemoryOptions {
  maxEntries: number;
  ttlMs: number;
  /** Entries said in one place at most: a busy channel forgets its own oldest, not the others'. */
  maxPerPlace?: number;
}

const idKey = (endpoint: string, msgid: string) => `${endpoint}\0${msgid}`;

export class MessageMemory {
  /** In the order they were added (so also by age): the first is the first to go. */
  private readonly entries = new Set<Remembered>();
  private readonly byId = new Map<string, Remembered>();
  private readonly lastBy = new Map<string, Remembered>();
  /** Per place said, its entries in the order added. */
  private readonly byPlace = new Map<string, Set<Remembered>>();

  constructor(private readonly opts: MemoryOptions) {}

  get size(): number {
    return this.entries.size;
  }

  /**
   * A new entry for something `nick` said in `endpoint` (with its id there, if the network gives
   * one). It becomes their latest line there unless `notLatest` (a room's history, replayed on
   * rejoin: old, so an s/old/new/ must not reach it).
   */
  add(endpoint: string, nick: string, text: string, msgid: string | undefined, now: number, notLatest = false): Remembered {
    this.prune(now);
    const cut = boundText(text);
    const entry: Remembered = { nick, where: endpoint, text: cut.text, truncated: cut.truncated, ids: new Map(), at: now, keys: [] };
    this.entries.add(entry);
    let here = this.byPlace.get(endpoint);
    if (!here) { here = new Set(); this.byPlace.set(endpoint, here); }
    here.add(entry);
    if (this.opts.maxPerPlace !== undefined) while (here.size > this.opts.maxPerPlace) this.forget(here.values().next().value!);
    if (msgid !== undefined) this.setId(entry, endpoint, msgid);
    if (!notLatest) {
      const lk = `${endpoint}\0${ircLower(nick)}`;
      const before = this.lastBy.get(lk);
      if (before) before.lastKey = undefined;
      this.lastBy.set(lk, entry);
      entry.lastKey = lk;
    }
    while (this.entries.size > this.opts.maxEntries) this.forget(this.entries.values().next().value!);
    return entry;
  }

  /** Records that `entry` has id `msgid` in `endpoint` (a copy the bridge sent, or a correction's own id). */
  setId(entry: Remembered, endpoint: string, msgid: string): void {
    if (!this.entries.has(entry) || entry.keys.length >= MAX_IDS_PER_ENTRY) return;
    const k = idKey(endpoint, msgid);
    if (this.byId.has(k)) return; // an id is never reused for another message
    // A second id in the same place (a correction's own) finds it too, without replacing the
    // first: replies and later corrections in other rooms refer to the copy's first id.
    if (!entry.ids.has(endpoint)) entry.ids.set(endpoint, msgid);
    this.byId.set(k, entry);
    entry.keys.push(k);
  }

  /** The message that has id `msgid` in `endpoint`, if it is remembered and not too old. */
  find(endpoint: string, msgid: string, now: number): Remembered | undefined {
    const e = this.byId.get(idKey(endpoint, msgid));
    if (!e || now - e.at >= this.opts.ttlMs) return undefined;
    return e;
  }

  /** The latest line `nick` said in `endpoint`, if remembered and not too old. */
  lastOf(endpoint: string, nick: string, now: number): Remembered | undefined {
    const e = this.lastBy.get(`${endpoint}\0${ircLower(nick)}`);
    if (!e || now - e.at >= this.opts.ttlMs) return undefined;
    return e;
  }

  /**
   * Forgets which line is `nick`'s latest in `endpoint` (they left, or took another nick): an
   * s/old/new/ from whoever has that nick next must not correct it. The line itself stays.
   */
  forgetLatest(endpoint: string, nick: string): void {
    const lk = `${endpoint}\0${ircLower(nick)}`;
    const e = this.lastBy.get(lk);
    if (!e) return;
    e.lastKey = undefined;
    this.lastBy.delete(lk);
  }

  /** Changes the remembered text (after a correction). */
  update(entry: Remembered, text: string): void {
    const cut = boundText(text);
    entry.text = cut.text;
    entry.truncated = cut.truncated;
  }

  private prune(now: number): void {
    for (const e of this.entries) {
      if (now - e.at < this.opts.ttlMs) break;
      this.forget(e);
    }
  }

  private forget(entry: Remembered): void {
    this.entries.delete(entry);
    const here = this.byPlace.get(entry.where);
    here?.delete(entry);
    if (here?.size === 0) this.byPlace.delete(entry.where);
    for (const k of entry.keys) if (this.byId.get(k) === entry) this.byId.delete(k);
    if (entry.lastKey && this.lastBy.get(entry.lastKey) === entry) this.lastBy.delete(entry.lastKey);
  }
}

function boundText(text: string): { text: string; truncated: boolean } {
  if (text.length <= MAX_REMEMBERED_TEXT) return { text, truncated: false };
  return { text: text.slice(0, MAX_REMEMBERED_TEXT), truncated: true };
}
