/**
 * Named D-Bus errors. Every refusal a node sends is one of these, with a readable text;
 * the meaning of each name is one sentence, repeated in protocol/org.hive.Node1.xml and docs/protocol.md.
 */
import { ERROR_PREFIX } from './names.js';

export const ERRORS = {
  NotChild: 'The caller is not an attached child of this node; attach first.',
  BadToken: 'The token given does not match the hive token of this node.',
  InvalidMessage: 'The HiveMessage is malformed: wrong signature, CR/LF/NUL in a line, too large, or a metadata key with the wrong type.',
  InvalidArgs: 'The arguments of the call do not have the expected signature or values.',
  Refused: 'The node refused the message on purpose (a filter, the allow-list, the sanitizer); the text says why.',
  QueueFull: 'The outbound queue of the network is full; the message was not queued.',
  NetworkUnknown: 'The message names a network this mouth does not have.',
  NoParent: 'The node has no live parent to send to (its parent died or is held).',
  Timeout: 'A call the node made did not get an answer in time.',
  NoSuchNode: 'The supervisor has no node of that name.',
  Failed: 'The operation failed; the text says why.',
  NotAuthorized: 'The caller may not do this: only the operator may change the hive, only the supervisor may move a node.',
} as const;

export type ErrorName = keyof typeof ERRORS;

export function errorName(name: ErrorName): string {
  return `${ERROR_PREFIX}.${name}`;
}

/** An error that travels over D-Bus under a Hive error name. */
export class HiveError extends Error {
  readonly dbusName: string;
  constructor(readonly code: ErrorName, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HiveError';
    this.dbusName = errorName(code);
  }
}

/** Maps an error a remote node replied with back to a HiveError where the name is ours. */
export function fromDBusError(err: unknown): HiveError {
  if (err instanceof HiveError) return err;
  const e = err as { type?: string; text?: string; message?: string };
  const type = e?.type ?? '';
  const text = e?.text ?? e?.message ?? String(err);
  if (type.startsWith(ERROR_PREFIX + '.')) {
    const code = type.slice(ERROR_PREFIX.length + 1) as ErrorName;
    if (code in ERRORS) return new HiveError(code, text, { cause: err });
  }
  return new HiveError('Failed', type ? `${type}: ${text}` : text, { cause: err });
}
