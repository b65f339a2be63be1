/**
 * Credentials (docs/security.md): the operator's and one per node.
 *
 * The hive secret is the operator's credential: it is in the runtime file (0600 in a 0700 dir)
 * and nowhere else; `hive` presents it with Supervisor1.Authenticate. Each node's credential
 * (its HIVE_TOKEN) is derived from it, HMAC-SHA256(secret, "node:" + name): one per node, the
 * same across the node's restarts (and across hives when HIVE_TOKEN_FILE keeps the secret, which
 * remote nodes need), and no node can compute another's or the secret from its own. The
 * supervisor answers Vouch(name, credential) with `credentialMatches`.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { NAME_PATTERN } from '../protocol/names.js';

/** The longest credential Vouch or Authenticate reads; longer ones are refused unread. */
export const CREDENTIAL_MAX = 128;

/** A new hive secret. */
export function newSecret(): string {
  return randomBytes(24).toString('hex');
}

/** Node `name`'s credential (its HIVE_TOKEN): HMAC-SHA256(secret, "node:" + name), base64url. */
export function nodeCredential(secret: string, name: string): string {
  return createHmac('sha256', secret).update(`node:${name}`).digest('base64url');
}

/** Timing-safe equality of two strings (length leaks, the content does not). */
export function sameCredential(given: string, expected: string): boolean {
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Whether `credential` is node `name`'s: false for any name or credential out of bounds. */
export function credentialMatches(secret: string, name: string, credential: string): boolean {
  if (!NAME_PATTERN.test(name) || credential.length === 0 || credential.length > CREDENTIAL_MAX) return false;
  return sameCredential(credential, nodeCredential(secret, name));
}
