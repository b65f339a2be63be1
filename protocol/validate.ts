/**
 * Cheap validation of a HiveMessage at the boundary where it enters a node (a child's Send):
 * byte scans and signature comparisons, with zod only for the few `hive.*` values present.
 * Throws HiveError('InvalidMessage') naming what is wrong.
 *
 * The zod rules are loaded by `loadMetaSchemas()`, which a node awaits before it accepts its first
 * child (and the mouth at start). Until then only the types are checked: that is a node checking
 * its own outbound messages, whose values its parent checks again.
 */
import { HiveError } from './errors.js';
import { LIMITS } from './limits.js';
import { CUSTOM_KEY_PATTERN, META_KEYS, isKnownKey } from './metadata.js';
import { isVariant, type WireMessage } from './codec.js';
import type { META_SCHEMAS } from './metadata-schema.js';
import { HIVE_MESSAGE_SIGNATURE } from './names.js';

let schemas: typeof META_SCHEMAS | undefined;

export async function loadMetaSchemas(): Promise<void> {
  schemas ??= (await import('./metadata-schema.js')).META_SCHEMAS;
}

const CR = 0x0d, LF = 0x0a, NUL = 0x00;

function invalid(text: string): HiveError {
  return new HiveError('InvalidMessage', text);
}

export function checkLines(lines: unknown): asserts lines is Buffer[] {
  if (!Array.isArray(lines)) throw invalid('lines: expected an array of byte arrays');
  if (lines.length > LIMITS.maxLines) throw invalid(`lines: ${lines.length} lines; at most ${LIMITS.maxLines} allowed`);
  let total = 0;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (!Buffer.isBuffer(l)) throw invalid(`lines[${i}]: expected a byte array`);
    if (l.length === 0) throw invalid(`lines[${i}]: empty line`);
    if (l.length > LIMITS.maxLineBytes) throw invalid(`lines[${i}]: ${l.length} bytes; at most ${LIMITS.maxLineBytes} allowed`);
    if (l.indexOf(CR) !== -1 || l.indexOf(LF) !== -1 || l.indexOf(NUL) !== -1) {
      throw invalid(`lines[${i}]: contains CR, LF or NUL; each line must be one IRC line without line ending`);
    }
    total += l.length;
  }
  if (total > LIMITS.maxMessageBytes) throw invalid(`lines: ${total} bytes in all; at most ${LIMITS.maxMessageBytes} allowed`);
}

export function checkMeta(meta: WireMessage[1]): void {
  if (!meta || typeof meta !== 'object') throw invalid('metadata: expected a{sv}');
  let entries = 0;
  for (const _key in meta) {
    // Before anything else is looked at: a dictionary of a million entries stops here.
    if (++entries > LIMITS.maxMetaEntries) throw invalid(`metadata: more than ${LIMITS.maxMetaEntries} entries`);
  }
  let bytes = 0;
  for (const key in meta) {
    const v = meta[key];
    if (isKnownKey(key)) {
      const spec = META_KEYS[key];
      if (v.signature !== spec.signature) {
        throw invalid(`metadata '${key}': type '${v.signature}'; expected '${spec.signature}'`);
      }
    } else if (key.startsWith('hive.')) {
      throw invalid(`metadata '${key}': unknown key in the hive namespace; see docs/protocol.md#metadata`);
    } else if (!CUSTOM_KEY_PATTERN.test(key)) {
      throw invalid(`metadata '${key}': a plugin's own key must be namespaced, like 'myplugin.key'`);
    }
    // Every key and value counts, nested ones too: a 5 MB hive.tags or a 10 MB custom array is
    // refused here, before zod or anyone else walks it.
    // The common values (a string, a number, a flag in a variant) without metaCost's stack.
    bytes += Buffer.byteLength(key) + 5;
    const x = isVariant(v) ? v.value : undefined;
    if (x === undefined) bytes = metaCost(v, bytes, LIMITS.maxMetaBytes);
    else {
      bytes += v.signature.length + 2;
      if (typeof x === 'string') bytes += Buffer.byteLength(x) + 5;
      else if (typeof x === 'number' || typeof x === 'bigint') bytes += 8;
      else if (typeof x === 'boolean') bytes += 4;
      else bytes = metaCost(x, bytes, LIMITS.maxMetaBytes);
    }
    if (bytes > LIMITS.maxMetaBytes) throw invalid(`metadata: more than ${LIMITS.maxMetaBytes} bytes (at '${key}')`);
  }
  if (!schemas) return;
  for (const key in meta) {
    if (!isKnownKey(key)) continue;
    const v = meta[key];
    const value = typeof v.value === 'bigint' ? Number(v.value) : v.value;
    const r = schemas[key].safeParse(value);
    if (!r.success) throw invalid(`metadata '${key}': ${r.error.issues[0]?.message ?? 'bad value'}`);
  }
}

/**
 * `start` plus the size of a decoded D-Bus value as on the wire without padding (a string 4 + its
 * UTF-8 bytes + 1, a number its width, a byte array 4 + its length, a container 4 + its elements,
 * a variant its signature + its value). Stops counting as soon as the total passes `max`: the
 * result is then only known to be greater than `max`.
 */
export function metaCost(value: unknown, start: number, max: number): number {
  let total = start;
  const stack: unknown[] = [value];
  while (stack.length !== 0) {
    if (total > max) return total;
    const v = stack.pop();
    switch (typeof v) {
      case 'string': total += Buffer.byteLength(v) + 5; continue;
      case 'number': case 'bigint': total += 8; continue;
      case 'boolean': total += 4; continue;
      case 'undefined': continue;
    }
    if (v === null || typeof v !== 'object') { total += 1; continue; }
    if (Buffer.isBuffer(v)) { total += 4 + v.length; continue; }
    if (isVariant(v)) { total += v.signature.length + 2; stack.push(v.value); continue; }
    total += 4;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length && total <= max; i++) { total += 1; stack.push(v[i]); }
    } else {
      for (const k in v) {
        if (total > max) break;
        total += Buffer.byteLength(k) + 5;
        stack.push((v as Record<string, unknown>)[k]);
      }
    }
  }
  return total;
}

/** Validates the body of a call whose signature must be `(aaya{sv})`. */
export function checkWireMessage(signature: string | undefined, body: unknown[]): WireMessage {
  if (signature !== HIVE_MESSAGE_SIGNATURE) {
    throw invalid(`signature '${signature ?? ''}'; expected '${HIVE_MESSAGE_SIGNATURE}'`);
  }
  const wire = body[0] as WireMessage;
  checkLines(wire[0]);
  checkMeta(wire[1]);
  return wire;
}
