/**
 * The outbound path of an XMPP network: a HiveMessage's IRC lines checked as on IRC (injection,
 * allow-list, CTCP), turned into XMPP actions — the PRIVMSG/NOTICE lines to one target become ONE
 * message with the lines joined by "\n" (`\x01ACTION …\x01` becomes `/me …`), JOIN and PART join
 * and leave rooms — then queued fairly (mouth/fair-queue.ts: by verified child, claimed origin and
 * the user answered) and sent paced by the token bucket, one token per stanza. Targets are
 * resolved when the message is submitted, so a plugin learns at once that a nick is unknown.
 * While the network is down the queue holds (bounded: QueueFull); nothing is dropped silently.
 */
import type { Element } from '@xmpp/xml';
import type { Logger } from 'pino';
import type { TokenBucket } from '../protocol/token-bucket.js';
import { createAllowList } from './allow-list.js';
import { createFairQueue } from './fair-queue.js';
import { PacedQueue, type OutboundStats } from './paced-queue.js';
import { checkEffect, parseOutbound } from './line-safety.js';
import { OutboundRefused, showBytes } from './outbound-error.js';
import type { Sender } from './outbound.js';
import { roomOfChannel } from './xmpp-names.js';
import { MAX_ID, type OutgoingMessage } from './xmpp-stanza.js';

/** What a plugin may send on XMPP: talk, and join or leave rooms. */
export const XMPP_COMMANDS = ['PRIVMSG', 'NOTICE', 'JOIN', 'PART'] as const;

export type XmppAction =
  | { kind: 'message'; msg: OutgoingMessage }
  | { kind: 'join'; room: string; password?: string }
  | { kind: 'part'; room: string }
  /** A message stanza sent before, which the server lost with the session (sent again as it was). */
  | { kind: 'stanza'; stanza: Element };

/** Where a line's target goes: a room (groupchat) or a JID (chat). */
export interface Resolved {
  to: string;
  type: 'chat' | 'groupchat';
}

/** The XMPP parts of the message a reply answers, and what the sender asked for in its metadata. */
export interface SubmitOptions {
  /** The message it answers (from hive.reply_to, or hive.reply_msgid): sent as XEP-0461 <reply>. */
  reply?: { id: string; to?: string };
  /** hive.msgid: the id of the (first) message sent. */
  msgid?: string;
  /** hive.replaces: the message it corrects (XEP-0308). */
  replaces?: string;
}

export interface XmppOutboundOptions {
  bucket: TokenBucket;
  queueMax: number;
  /** The largest body, in UTF-8 bytes. */
  maxBodyBytes: number;
  /** A PRIVMSG/NOTICE target → where it goes; throws OutboundRefused InvalidLine for one it cannot reach. */
  resolve(target: string): Resolved;
  /** Throws OutboundRefused when the room cannot be joined now (too many rooms). */
  joinable?(room: string): void;
  send(action: XmppAction): void;
  /** A fresh stanza id. */
  newId(): string;
  log: Logger;
}

const ACTION = /^\x01ACTION(?: ([\s\S]*?))?\x01?$/;
/** mIRC formatting (bold, colours, italics, …): meaningless in an XMPP body, and not XML characters. */
const IRC_FORMATTING = /\x03(?:\d{1,2}(?:,\d{1,2})?)?|[\x02\x0f\x11\x16\x1d\x1e\x1f]/g;
/** What XML 1.0 cannot carry: other control characters, lone surrogates, U+FFFE/U+FFFF. */
const NOT_XML = /[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** A line's text as an XMPP body may carry it: formatting dropped, what XML cannot hold as U+FFFD. */
export function xmppText(text: string): string {
  return text.replace(IRC_FORMATTING, '').replace(NOT_XML, '\ufffd');
}

export class XmppOutbound {
  private readonly paced: PacedQueue<XmppAction>;
  private readonly allowList = createAllowList(XMPP_COMMANDS);

  constructor(private readonly o: XmppOutboundOptions) {
    this.paced = new PacedQueue({ queue: createFairQueue({ maxItems: o.queueMax }), bucket: o.bucket, send: o.send, log: o.log });
  }

  get size(): number { return this.paced.size; }

  get stats(): OutboundStats { return this.paced.stats; }

  /** Checks and queues the lines of one message; throws OutboundRefused and queues nothing on any bad line. */
  submit(sender: Sender, lines: Buffer[], opts: SubmitOptions = {}): void {
    try {
      const actions = this.actionsOf(sender, lines, opts);
      if (actions.length === 0) return;
      this.paced.push(sender.via, actions, sender.origin, sender.user);
    } catch (err) {
      this.paced.count(err);
      throw err;
    }
  }

  /**
   * Queues message stanzas the server lost with the session, to be sent again paced like the rest
   * (the token bucket; counted as sent). Returns how many were queued: none when the queue is full
   * (logged).
   */
  resend(stanzas: Element[]): number {
    if (stanzas.length === 0) return 0;
    try {
      this.paced.push('(resend)', stanzas.map((stanza) => ({ kind: 'stanza', stanza }) as const));
    } catch (err) {
      this.paced.count(err);
      this.o.log.error({ messages: stanzas.length, err: (err as Error).message }, 'messages the server lost not sent again: the queue is full');
      return 0;
    }
    return stanzas.length;
  }

  /** Counts a refusal made outside submit (e.g. by the network), so `refused` tells all. */
  count(err: unknown): void { this.paced.count(err); }

  private actionsOf(sender: Sender, lines: Buffer[], opts: SubmitOptions): XmppAction[] {
    const actions: XmppAction[] = [];
    let open: { key: string; resolved: Resolved; texts: string[] } | undefined;
    const flush = () => {
      if (!open) return;
      const body = open.texts.join('\n');
      const bytes = Buffer.byteLength(body, 'utf8');
      if (bytes > this.o.maxBodyBytes) {
        throw new OutboundRefused('LineTooLong', `The message to ${showBytes(open.resolved.to)} is ${bytes} bytes; expected at most ${this.o.maxBodyBytes} (max_message_bytes).`);
      }
      const first = !actions.some((a) => a.kind === 'message');
      const id = first && opts.msgid ? opts.msgid : this.o.newId();
      actions.push({
        kind: 'message',
        msg: { to: open.resolved.to, type: open.resolved.type, body, id, ...(opts.reply ? { replyTo: opts.reply } : {}), ...(first && opts.replaces ? { replaces: opts.replaces } : {}) },
      });
      open = undefined;
    };
    if (opts.msgid !== undefined && (opts.msgid.length === 0 || opts.msgid.length > MAX_ID)) {
      throw new OutboundRefused('InvalidLine', `hive.msgid must be 1-${MAX_ID} characters.`);
    }
    for (const line of lines) {
      const parsed = parseOutbound(line);
      this.allowList.check(parsed.command);
      checkEffect(parsed, { ctcp: sender.ctcp });
      const [first, second] = parsed.params;
      if (parsed.command === 'JOIN' || parsed.command === 'PART') {
        flush();
        if (!first) throw new OutboundRefused('InvalidLine', `${parsed.command} needs a room, as "${parsed.command} #room@conference.example.org".`);
        const keys = parsed.command === 'JOIN' && second ? second.toString('utf8').split(',') : [];
        first.toString('utf8').split(',').forEach((channel, i) => {
          const room = roomOfChannel(channel);
          if (!room) throw new OutboundRefused('InvalidLine', `${showBytes(channel)} is not a room; expected a channel like "#room@conference.example.org".`);
          if (parsed.command === 'JOIN') this.o.joinable?.(room);
          actions.push(parsed.command === 'JOIN' ? { kind: 'join', room, ...(keys[i] ? { password: keys[i] } : {}) } : { kind: 'part', room });
        });
        continue;
      }
      // PRIVMSG or NOTICE: XMPP has no notices; both are messages.
      if (!first || parsed.params.length < 2) throw new OutboundRefused('InvalidLine', `${parsed.command} needs a target and a text, as "${parsed.command} target :text".`);
      const target = first.toString('utf8');
      let text = parsed.params.slice(1).map((p) => p.toString('utf8')).join(' ');
      const action = ACTION.exec(text);
      if (action) text = `/me ${action[1] ?? ''}`.trimEnd();
      const key = target.toLowerCase();
      if (open && open.key !== key) flush();
      if (!open) open = { key, resolved: this.o.resolve(target), texts: [] };
      open.texts.push(xmppText(text));
    }
    flush();
    return actions;
  }

  /** The counters for `hive tree`, flat, always the same keys: queued, sent, waiting, refused, refused_<Code>. */
  counters(): Record<string, number> { return this.paced.counters(); }

  /** The stream is online (true) or gone (false). */
  setOpen(open: boolean): void { this.paced.setOpen(open); }

  /** Empties the queue; returns how many messages were still waiting (reported, not lost silently). */
  close(): number { return this.paced.close(); }
}
