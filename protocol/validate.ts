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
import type { WireMessage } from './codec.js';
import type { META_SCHEMAS } from './metadata-schema.js';

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
  let entries = 0, bytes = 0;
  for (const key in meta) {
    entries++;
    bytes += key.length;
    const v = meta[key];
    if (isKnownKey(key)) {
      const spec = META_KEYS[key];
      if (v.signature !== spec.signature) {
        throw invalid(`metadata '${key}': type '${v.signature}'; expected '${spec.signature}'`);
      }
      const value = typeof v.value === 'bigint' ? Number(v.value) : v.value;
      const r = schemas?.[key].safeParse(value);
      if (r && !r.success) throw invalid(`metadata '${key}': ${r.error.issues[0]?.message ?? 'bad value'}`);
      if (typeof value === 'string') bytes += value.length;
      else if (Array.isArray(value)) for (const s of value) bytes += String(s).length;
    } else if (key.startsWith('hive.')) {
      throw invalid(`metadata '${key}': unknown key in the hive namespace; see docs/protocol.md#metadata`);
    } else if (!CUSTOM_KEY_PATTERN.test(key)) {
      throw invalid(`metadata '${key}': a plugin's own key must be namespaced, like 'myplugin.key'`);
    } else if (typeof v.value === 'string') {
      bytes += v.value.length;
    } else if (Buffer.isBuffer(v.value)) {
      bytes += v.value.length;
    }
  }
  if (entries > LIMITS.maxMetaEntries) throw invalid(`metadata: ${entries} entries; at most ${LIMITS.maxMetaEntries} allowed`);
  if (bytes > LIMITS.maxMetaBytes) throw invalid(`metadata: about ${bytes} bytes; at most ${LIMITS.maxMetaBytes} allowed`);
}

/** Validates the body of a call whose signature must be `(aaya{sv})`. */
export function checkWireMessage(signature: string | undefined, body: unknown[]): WireMessage {
  if (signature !== '(aaya{sv})') {
    throw invalid(`signature '${signature ?? ''}'; expected '(aaya{sv})'`);
  }
  const wire = body[0] as WireMessage;
  checkLines(wire[0]);
  checkMeta(wire[1]);
  return wire;
}
