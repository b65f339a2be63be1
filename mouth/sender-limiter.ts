/**
 * Rate limits for what others make the mouth do on their behalf (CTCP answers to IRC users,
 * lookups plugins send): one token bucket per sender and one over all of them, both of which must
 * have a token. The map of senders is bounded: past maxSenders the least recently seen is
 * forgotten (a fresh sender starts with a full bucket, but the overall bucket still holds, so
 * rotating names gains an attacker nothing beyond the overall rate).
 */
import { createTokenBucket, type TokenBucket } from '../protocol/token-bucket.js';

export interface Rate { burst: number; ratePerSec: number }

export interface SenderLimiterOptions {
  perSender: Rate;
  overall: Rate;
  /** Senders remembered at most (default 1024). */
  maxSenders?: number;
  now?: () => number;
}

export interface SenderLimiter {
  /** Takes a token for `sender` (and one overall); false when either is empty — then nothing is taken. */
  take(sender: string): boolean;
  /** Senders currently remembered. */
  readonly senders: number;
}

export function createSenderLimiter(o: SenderLimiterOptions): SenderLimiter {
  const maxSenders = o.maxSenders ?? 1024;
  const overall = createTokenBucket({ burst: o.overall.burst, ratePerSec: o.overall.ratePerSec, now: o.now });
  const buckets = new Map<string, TokenBucket>();
  return {
    take(sender) {
      let b = buckets.get(sender);
      if (b) buckets.delete(sender); // re-inserted below: the Map's order is recency
      else {
        if (buckets.size >= maxSenders) buckets.delete(buckets.keys().next().value as string);
        b = createTokenBucket({ burst: o.perSender.burst, ratePerSec: o.perSender.ratePerSec, now: o.now });
      }
      buckets.set(sender, b);
      // Check both before taking either, so a refusal costs neither bucket.
      if (b.available() < 1 - 1e-9 || overall.available() < 1 - 1e-9) return false;
      return b.take() && overall.take();
    },
    get senders() { return buckets.size; },
  };
}
