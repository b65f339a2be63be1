/**
 * The one place HiveMessages are turned into dbus-next values and back. Everything else goes
 * through encode/decode here, so that a faster marshaller for `(aaya{sv})` can replace dbus-next's
 * without touching anything else (see docs/performance.md).
 */
import dbus from './dbus-next.js';
import type { HiveMessage } from './hive-message.js';
import { META_KEYS, isKnownKey, type Meta } from './metadata.js';

const { Variant } = dbus;
type Variant = InstanceType<typeof Variant>;

/** The body of a dbus-next message whose signature is `(aaya{sv})`. */
export type WireMessage = [Buffer[], Record<string, Variant>];

export function isVariant(v: unknown): v is Variant {
  return v instanceof Variant;
}

/** Guess a D-Bus type for a plugin's own metadata value. */
function inferVariant(key: string, value: unknown): Variant {
  if (isVariant(value)) return value;
  switch (typeof value) {
    case 'string': return new Variant('s', value);
    case 'boolean': return new Variant('b', value);
    case 'number': return Number.isInteger(value) ? new Variant('x', BigInt(value)) : new Variant('d', value);
    case 'bigint': return new Variant('x', value);
  }
  if (Buffer.isBuffer(value)) return new Variant('ay', value);
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return new Variant('as', value);
  if (value && typeof value === 'object' && Object.values(value).every((v) => typeof v === 'string')) {
    return new Variant('a{ss}', plainDict(value));
  }
  throw new TypeError(`metadata '${key}': cannot infer a D-Bus type for ${typeof value}; pass a dbus-next Variant`);
}

/**
 * dbus-next marshals an a{..} only from an object whose constructor is Object: a dictionary with no
 * prototype (irc-line.ts's tags, where __proto__ may be a tag) is copied into a plain one, its own
 * keys kept as data properties. Our own marshaller (wire.ts) takes either, so live messages went
 * through while a Replay answer (dbus-next) of a tagged line failed to marshal.
 */
function plainDict(value: object): object {
  return Object.getPrototypeOf(value) === null ? { ...value } : value;
}

export function encodeMeta(meta: Meta): Record<string, Variant> {
  const out: Record<string, Variant> = {};
  for (const key in meta) {
    const value = meta[key];
    if (value === undefined) continue;
    if (isKnownKey(key)) {
      const sig = META_KEYS[key].signature;
      out[key] = new Variant(sig, sig === 't' ? BigInt(value as number) : sig.startsWith('a{') ? plainDict(value as object) : value);
    } else {
      out[key] = inferVariant(key, value);
    }
  }
  return out;
}

export function encode(msg: HiveMessage): WireMessage {
  return [msg.lines, encodeMeta(msg.meta)];
}

/** Unwraps known keys to plain values; keeps other keys as Variants so they re-encode unchanged. */
export function decodeMeta(wire: Record<string, Variant>): Meta {
  const meta: Meta = {};
  for (const key in wire) {
    const v = wire[key];
    if (isKnownKey(key)) {
      (meta as Record<string, unknown>)[key] = typeof v.value === 'bigint' ? Number(v.value) : v.value;
    } else {
      meta[key] = v;
    }
  }
  return meta;
}

export function decode(wire: WireMessage): HiveMessage {
  return { lines: wire[0], meta: decodeMeta(wire[1]) };
}
