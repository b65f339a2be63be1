/**
 * Path and origin of a message a child sent up, from the verified sender, never from the body
 * alone (docs/protocol.md#path-and-origin): the last element of hive.path is the child the message
 * came from (appended unless the body's path already ends with it), and hive.origin must be an
 * element of that path, else it is path[0]. What comes before the child's name is the child's claim
 * about its own subtree. Also the down path's mark: a node appends itself to what it passes down.
 * Pure: changes the message's metadata in place.
 */
import type { WireMessage } from '../codec.js';
import { HiveError } from '../errors.js';
import { Variant } from './bus.js';

/** hive.path's longest (metadata-schema.ts). */
export const MAX_PATH = 64;

/**
 * Stamps `wire` as sent by the child `child`; throws InvalidMessage when the path gets too long.
 * Returns the origin the child claimed when it was not on the path (and was replaced), for the
 * caller to count and log.
 */
export function stampSender(wire: WireMessage, child: string): { forgedOrigin?: string; path: string[] } {
  const meta = wire[1];
  const claimed = (meta['hive.path']?.value as string[] | undefined) ?? [];
  const path = claimed[claimed.length - 1] === child ? claimed : [...claimed, child];
  if (path.length > MAX_PATH) throw new HiveError('InvalidMessage', `metadata 'hive.path': ${path.length} nodes with '${child}'; at most ${MAX_PATH}`);
  if (path !== claimed) meta['hive.path'] = new Variant('as', path);
  const origin = meta['hive.origin']?.value;
  if (typeof origin === 'string' && path.includes(origin)) return { path };
  meta['hive.origin'] = new Variant('s', path[0]!);
  return origin === undefined ? { path } : { forgedOrigin: String(origin).slice(0, 64), path };
}

/** Adds `name` at the end of the message's hive.path (passing it down). */
export function appendPath(wire: WireMessage, name: string): void {
  const path = wire[1]['hive.path'];
  wire[1]['hive.path'] = new Variant('as', path ? [...(path.value as string[]), name] : [name]);
}
