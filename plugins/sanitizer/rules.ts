/**
 * The sanitizer's rules, pure: what a message from the subtree may contain. Each check returns a
 * Refusal (which rule, and a sentence saying why) or nothing. The plugin (index.ts) feeds them
 * what it learnt from the lines going down: the message a reply answers, and channel members.
 */
import { ircLower, isChannel, type IrcLine } from '../../protocol/sdk/index.js';

export type Rule = 'invalid' | 'command' | 'target' | 'highlight' | 'formatting';

export interface Refusal {
  rule: Rule;
  reason: string;
}

export type Formatting = 'allow' | 'strip' | 'refuse';

export interface Policy {
  /** Upper-case IRC commands the subtree may send. */
  commands: Set<string>;
  /** Targets allowed whatever the message answers (folded). */
  extraTargets: Set<string>;
  maxHighlights: number;
  formatting: Formatting;
}

/** The message a reply answers, as seen on its way down. */
export interface Trigger {
  network: string;
  /** The channel it was said in; undefined for a private message. */
  channel?: string;
  speaker: string;
}

/** Commands whose first parameter is where the text goes. */
const MESSAGE_COMMANDS = new Set(['PRIVMSG', 'NOTICE', 'TAGMSG']);

/**
 * Where a line goes: the (comma-separated) first parameter of PRIVMSG/NOTICE/TAGMSG; for any
 * other command the channels its first parameter names (JOIN #a,#b; MODE #a; KICK #a nick; and
 * INVITE nick #a), so that a command an operator allows is still bound to the allowed channels.
 */
export function lineTargets(irc: IrcLine): string[] {
  const first = (irc.params[0] ?? '').split(',').filter(Boolean);
  if (MESSAGE_COMMANDS.has(irc.command)) return first;
  const named = irc.command === 'INVITE' ? (irc.params[1] ?? '').split(',') : first;
  return named.filter(isChannel);
}

/** The text of a PRIVMSG/NOTICE line, undefined for other lines. */
export function textOf(irc: IrcLine): string | undefined {
  return irc.command === 'PRIVMSG' || irc.command === 'NOTICE' ? irc.params[irc.params.length - 1] ?? '' : undefined;
}

// mIRC formatting: bold, colour (with its digits), hex colour, reset, monospace, reverse, italic,
// strikethrough, underline. \x01 (CTCP, e.g. ACTION) is not formatting.
const COLOUR = /\x03(?:\d{1,2}(?:,\d{1,2})?)?/g;
const HEX_COLOUR = /\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?/g;
const TOGGLES = /[\x02\x0f\x11\x16\x1d\x1e\x1f]/g;
const ANY_CODE = /[\x02\x03\x04\x0f\x11\x16\x1d\x1e\x1f]/;

export function hasFormatting(text: string): boolean {
  return ANY_CODE.test(text);
}

export function stripFormatting(text: string): string {
  return text.replace(COLOUR, '').replace(HEX_COLOUR, '').replace(TOGGLES, '');
}

/** Characters that cannot be part of a nick separate the words a client would highlight on. */
const NOT_NICK = /[^A-Za-z0-9[\]\\`_^{|}-]+/;

/**
 * The distinct members of a channel a text names, as clients would highlight them: words of the
 * text with formatting removed (so that codes inside a nick do not hide it), the bot excluded.
 */
export function namedMembers(text: string, members: Iterable<string>, ownNick?: string): string[] {
  const byFolded = new Map<string, string>();
  for (const m of members) byFolded.set(ircLower(m), m);
  if (ownNick) byFolded.delete(ircLower(ownNick));
  const named = new Map<string, string>();
  for (const word of stripFormatting(text).split(NOT_NICK)) {
    const m = word && byFolded.get(ircLower(word));
    if (m) named.set(ircLower(word), m);
  }
  return [...named.values()];
}

/** The targets a reply may go to: where its trigger was said, its speaker, and the extra ones. */
export function allowedTargets(network: string, trigger: Trigger | undefined, policy: Policy): Set<string> {
  const out = new Set(policy.extraTargets);
  if (trigger && trigger.network === network) {
    if (trigger.channel) out.add(ircLower(trigger.channel));
    out.add(ircLower(trigger.speaker));
  }
  return out;
}

export interface StaticContext {
  network: string;
  /** hive.reply_to of the message, if any. */
  replyTo: string | undefined;
  /** What it answers, when this filter saw that go down (and still remembers it). */
  trigger: Trigger | undefined;
}

/** Every check that needs no channel members: parse, command, targets, formatting (refuse mode). */
export function checkStatic(parsed: (IrcLine | undefined)[], ctx: StaticContext, policy: Policy): Refusal | undefined {
  const allowed = allowedTargets(ctx.network, ctx.trigger, policy);
  for (const irc of parsed) {
    if (!irc) return { rule: 'invalid', reason: 'a line of the message is not an IRC line' };
    if (!policy.commands.has(irc.command)) {
      return { rule: 'command', reason: `${irc.command} is not allowed here (allowed: ${[...policy.commands].join(', ')})` };
    }
    for (const target of lineTargets(irc)) {
      if (allowed.has(ircLower(target))) continue;
      return { rule: 'target', reason: targetReason(target, ctx) };
    }
    if (policy.formatting === 'refuse' && hasFormatting(textOf(irc) ?? '')) {
      return { rule: 'formatting', reason: 'formatting codes (bold, colours, …) are not allowed here' };
    }
  }
  return undefined;
}

function targetReason(target: string, ctx: StaticContext): string {
  if (ctx.trigger && ctx.trigger.network === ctx.network) {
    const where = ctx.trigger.channel ? `in ${ctx.trigger.channel}` : 'in private';
    return `${target} is not an allowed target: the message answered was said ${where}; a reply goes there or privately to its speaker`;
  }
  if (ctx.replyTo) return `${target} is not an allowed target: the message answered was not seen here (or too long ago), so only extra_targets are allowed`;
  return `${target} is not an allowed target: a message that answers nothing may only go to extra_targets`;
}

/** Channels whose members must be known to check the highlights of `parsed`. */
export function channelsToCount(parsed: IrcLine[]): string[] {
  const out = new Map<string, string>();
  for (const irc of parsed) {
    if (textOf(irc) === undefined) continue;
    for (const t of lineTargets(irc)) if (isChannel(t) && !out.has(ircLower(t))) out.set(ircLower(t), t);
  }
  return [...out.values()];
}

/** Refuses a line naming more than `max` distinct members of the channel it goes to. */
export function checkHighlights(parsed: IrcLine[], membersOf: (channel: string) => string[], ownNick: string | undefined, max: number): Refusal | undefined {
  for (const irc of parsed) {
    const text = textOf(irc);
    if (text === undefined) continue;
    for (const t of lineTargets(irc)) {
      if (!isChannel(t)) continue;
      const named = namedMembers(text, membersOf(t), ownNick).length;
      if (named > max) return { rule: 'highlight', reason: `a line names ${named} members of ${t} (at most ${max} per line)` };
    }
  }
  return undefined;
}

/** Where the text (the last parameter) starts in a raw line: after tags, prefix and " :". */
function textStart(raw: Buffer): number {
  let i = 0;
  const skipWord = () => {
    i = raw.indexOf(0x20, i);
    if (i < 0) i = raw.length;
    while (raw[i] === 0x20) i++;
  };
  if (raw[i] === 0x40) skipWord(); // @tags
  if (raw[i] === 0x3a) skipWord(); // :prefix
  const colon = raw.indexOf(' :', i);
  return colon >= 0 ? colon + 2 : raw.lastIndexOf(0x20) + 1;
}

/**
 * In strip mode, the lines with formatting removed from their text; undefined when none had any.
 * Works on the bytes (as latin1, one char per byte): the codes are ASCII, which never occurs inside
 * a UTF-8 sequence, so text in any encoding stays byte for byte what it was.
 */
export function stripLines(lines: Buffer[], parsed: IrcLine[]): Buffer[] | undefined {
  let changed = false;
  const out = lines.map((raw, i) => {
    const text = textOf(parsed[i]!);
    if (text === undefined || !hasFormatting(text)) return raw;
    changed = true;
    const at = textStart(raw);
    return Buffer.concat([raw.subarray(0, at), Buffer.from(stripFormatting(raw.subarray(at).toString('latin1')), 'latin1')]);
  });
  return changed ? out : undefined;
}
