/**
 * The HiveMessage: D-Bus `(aaya{sv})`, raw IRC lines as bytes (no CR, LF or NUL inside a line,
 * the encoding is unknown) and a metadata dictionary. The lines of one message are sent together.
 */
import { randomBytes } from 'node:crypto';
import type { Meta } from './metadata.js';

export interface HiveMessage {
  lines: Buffer[];
  meta: Meta;
}

let counter = 0;
const runId = randomBytes(4).toString('hex');

/** A message id unique across the hive: the node name, a per-process random part and a counter. */
export function newMessageId(node: string): string {
  counter = (counter + 1) >>> 0;
  return `${node}-${runId}-${counter.toString(36)}`;
}

export function line(text: string): Buffer {
  return Buffer.from(text, 'utf8');
}
