import { describe, expect, it } from 'vitest';
import { credentialMatches, newSecret, nodeCredential, sameCredential } from './credentials.js';

describe('credentials', () => {
  const secret = newSecret();
  it('derives one credential per name, the same at every call (a restart keeps it), never the secret', () => {
    expect(nodeCredential(secret, 'ping')).toBe(nodeCredential(secret, 'ping'));
    expect(nodeCredential(secret, 'ping')).not.toBe(nodeCredential(secret, 'echo'));
    expect(nodeCredential(newSecret(), 'ping')).not.toBe(nodeCredential(secret, 'ping'));
    expect(nodeCredential(secret, 'ping')).not.toContain(secret);
  });
  it('vouches for a node\'s own credential only', () => {
    expect(credentialMatches(secret, 'ping', nodeCredential(secret, 'ping'))).toBe(true);
    expect(credentialMatches(secret, 'echo', nodeCredential(secret, 'ping'))).toBe(false);
    expect(credentialMatches(secret, 'ping', secret)).toBe(false);
    expect(credentialMatches(secret, 'ping', '')).toBe(false);
  });
  it('refuses names and credentials out of bounds', () => {
    expect(credentialMatches(secret, 'a.b', nodeCredential(secret, 'a.b'))).toBe(false);
    expect(credentialMatches(secret, 'ping', 'x'.repeat(129))).toBe(false);
  });
  it('compares strings of different lengths without throwing', () => {
    expect(sameCredential('abc', 'abcd')).toBe(false);
    expect(sameCredential('abcd', 'abcd')).toBe(true);
  });
});
