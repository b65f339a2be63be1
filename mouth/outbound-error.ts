/**
 * The one error the mouth throws when it will not send what a plugin asked for.
 * Each code maps to a Hive D-Bus error name so the refusal travels back to the sender
 * with a readable text instead of the line being dropped silently.
 */
import { HiveError, type ErrorName } from '../protocol/errors.js';

export type OutboundRefusedCode =
  | 'InjectionAttempt'
  | 'LineTooLong'
  | 'CommandNotAllowed'
  | 'QueueFull'
  | 'UserShare'
  | 'NetworkUnknown'
  | 'InvalidLine'
  | 'CtcpNotAllowed'
  | 'JoinZero'
  | 'RateLimited';

/** Which D-Bus error (protocol/errors.ts) each refusal is reported as. */
export const OUTBOUND_HIVE_ERROR: Readonly<Record<OutboundRefusedCode, ErrorName>> = {
  InjectionAttempt: 'InvalidMessage',
  InvalidLine: 'InvalidMessage',
  LineTooLong: 'Refused',
  CommandNotAllowed: 'Refused',
  QueueFull: 'QueueFull',
  // One IRC user's share of a plugin's queued messages is full: for the plugin, a full queue.
  UserShare: 'QueueFull',
  NetworkUnknown: 'NetworkUnknown',
  CtcpNotAllowed: 'Refused',
  JoinZero: 'Refused',
  RateLimited: 'Refused',
};

export class OutboundRefused extends Error {
  readonly code: OutboundRefusedCode;

  constructor(code: OutboundRefusedCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OutboundRefused';
    this.code = code;
  }

  /** The Hive error name this refusal is reported under over D-Bus. */
  get hiveErrorName(): ErrorName {
    return OUTBOUND_HIVE_ERROR[this.code];
  }

  /** The same refusal as a HiveError, ready to be returned to the D-Bus caller. */
  toHiveError(): HiveError {
    return new HiveError(this.hiveErrorName, `${this.code}: ${this.message}`, { cause: this });
  }
}

/**
 * Renders (part of) a raw line for an error message: control bytes become `\xNN` so that the
 * message itself can never carry CR/LF into a log line or back onto IRC; long values are cut.
 */
export function showBytes(value: Buffer | string, max = 64): string {
  const buf = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  const shown = buf.subarray(0, max).toString('utf8');
  const escaped = shown.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return buf.length > max ? `"${escaped}…" (${buf.length} bytes)` : `"${escaped}"`;
}
