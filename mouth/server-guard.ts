/**
 * The IRC server is not trusted (docs/security.md): what makes the mouth drop a connection on its
 * own, with a named reason, rather than let one server cost it memory or CPU without end —
 * MalformedFlood (more than MALFORMED_MAX lines that could not be taken within
 * MALFORMED_WINDOW_MS), StateTooLarge (irc-framework's buffered lists, batches, ISUPPORT tokens and
 * capabilities past FRAMEWORK_STATE_MAX), WriteBlocked (more than WRITE_BUFFER_MAX bytes the server
 * does not read). Pure bookkeeping per connection; the network does the dropping.
 */
import type { Socket } from 'node:net';
import type { Client as IrcClient } from 'irc-framework';

/** More malformed lines than this within the window: the server is broken or hostile; drop the connection. */
export const MALFORMED_MAX = 100;
export const MALFORMED_WINDOW_MS = 10_000;
/**
 * Entries irc-framework may hold between lines (unfinished NAMES/WHO/ban lists, BATCHes, MOTD,
 * ISUPPORT tokens, capabilities); checked every FRAMEWORK_CHECK_EVERY lines. A server that never
 * ends a list, or offers capabilities without end, would otherwise grow the mouth's memory.
 */
export const FRAMEWORK_STATE_MAX = 200_000;
/**
 * Bytes waiting to be written to the server. irc-framework answers every PING itself, bypassing
 * the flood control: a server that sends PINGs and does not read would grow this without bound.
 */
export const WRITE_BUFFER_MAX = 1 << 20;
const FRAMEWORK_CHECK_EVERY = 256;

export class ServerGuard {
  private window = { start: 0, count: 0 };
  private linesSinceCheck = 0;

  /** A new connection starts with a clean slate. */
  reset(): void {
    this.window = { start: 0, count: 0 };
    this.linesSinceCheck = 0;
  }

  /** One more line that could not be taken: the reason to drop the connection, when there are too many. */
  malformed(now = Date.now()): string | undefined {
    const w = this.window;
    if (now - w.start > MALFORMED_WINDOW_MS) { w.start = now; w.count = 0; }
    if (++w.count > MALFORMED_MAX) return `MalformedFlood: more than ${MALFORMED_MAX} malformed lines from the server within ${MALFORMED_WINDOW_MS / 1000} s`;
    return undefined;
  }

  /** After a line was handed to irc-framework: the reason to drop the connection, if any. */
  afterLine(socket: Socket | undefined, client: IrcClient | undefined): string | undefined {
    if (socket && socket.writableLength > WRITE_BUFFER_MAX) {
      return `WriteBlocked: the server does not read what the bot sends (${socket.writableLength} bytes waiting, at most ${WRITE_BUFFER_MAX})`;
    }
    if (++this.linesSinceCheck < FRAMEWORK_CHECK_EVERY) return undefined;
    this.linesSinceCheck = 0;
    const size = client ? frameworkStateSize(client) : 0;
    if (size > FRAMEWORK_STATE_MAX) return `StateTooLarge: the server left ${size} entries of unfinished lists, batches, ISUPPORT tokens or capabilities (at most ${FRAMEWORK_STATE_MAX})`;
    return undefined;
  }
}

/**
 * Roughly how many things irc-framework holds for lists and batches not yet ended: each array
 * element, each cache, each ISUPPORT token, each capability it was offered, enabled or requested
 * (CAP LS/NEW add to them after registration too), and a long string (the MOTD) per 512 characters.
 */
export function frameworkStateSize(client: IrcClient): number {
  const caches = (client as unknown as { command_handler?: { _caches?: Record<string, Record<string, unknown>> } }).command_handler?._caches ?? {};
  let n = 0;
  for (const cache of Object.values(caches)) {
    n++;
    for (const v of Object.values(cache)) {
      if (Array.isArray(v)) n += v.length;
      else if (typeof v === 'string') n += Math.floor(v.length / 512);
    }
  }
  const options = (client.network as unknown as { options?: Record<string, unknown> }).options;
  if (options) n += Object.keys(options).length;
  const cap = client.network.cap;
  n += cap.available.size + cap.enabled.length + cap.requested.length;
  return n;
}
