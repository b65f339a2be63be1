/**
 * The pure parts of the pager: where a page is kept, and the split of a long reply into a first
 * page and a kept rest. No I/O, no timers. (Pages expire in the SDK's Recent.)
 */
import { ircLower } from '../../protocol/sdk/index.js';

/** What a page is kept under: network, reply target and the user who asked ('*' when unknown). */
export function pageKey(network: string, target: string, user: string | undefined): string {
  return `${network}\u0000${ircLower(target)}\u0000${user ? ircLower(user) : '*'}`;
}

/** The hint that ends a page when more is kept. */
export function hintText(more: number, prefix: string): string {
  return `(+${more} more line${more === 1 ? '' : 's'}: say ${prefix}more)`;
}

export interface Split<L> {
  /** The lines to send now (without the hint). */
  first: L[];
  /** The lines kept for `more`. */
  rest: L[];
}

/** Splits `lines` after `n`; the rest is empty when there is nothing to keep. */
export function splitPage<L>(lines: L[], n: number): Split<L> {
  return { first: lines.slice(0, n), rest: lines.slice(n) };
}

/**
 * Whether a reply may be paged, and where it goes: all its lines must be PRIVMSG or NOTICE to one
 * and the same single target. Anything else (mixed targets, other commands) passes unpaged, since
 * cutting it would change what it means.
 */
export function pagedTarget(lines: { command: string; params: string[] }[]): string | undefined {
  let target: string | undefined;
  for (const l of lines) {
    if (l.command !== 'PRIVMSG' && l.command !== 'NOTICE') return undefined;
    const t = l.params[0];
    if (!t || t.includes(',')) return undefined;
    if (target === undefined) target = t;
    else if (ircLower(target) !== ircLower(t)) return undefined;
  }
  return target;
}
