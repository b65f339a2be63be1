/**
 * A classic token bucket with continuous refill: the flood control of each IRC connection and
 * the rate limits of plugins (announce). Hive has this one.
 * For IRC one token is one line. The bucket starts full, so a short reply goes out at once, and a long
 * one is paced at the sustained rate.
 *
 * Defaults: burst 5, 0.5 lines/s (one line every 2 s). Hybrid/ratbox/Solanum servers (Libera,
 * OFTC) take a burst of 5 lines from a client and then read about one line per second; what
 * they have not read piles up in the receive queue until "Excess Flood" disconnects us. Half
 * that rate leaves room for the mouth's own PONGs and for servers stricter than the norm; it
 * is what irssi has long used (5 at once, then one every 2.2 s).
 */

export const DEFAULT_BURST = 5;
export const DEFAULT_RATE_PER_SEC = 0.5;

export interface TokenBucketOptions {
  /** Lines that may go out at once after a quiet period (the capacity). At least 1. */
  burst?: number;
  /** Sustained lines per second. `Infinity` disables flood control (benchmarks, local servers). */
  ratePerSec?: number;
  /** Monotonic clock in ms; injectable so that tests and the scheduler can drive time. */
  now?: () => number;
}

export interface TokenBucket {
  /** Takes one token if there is one; false (and nothing changes) if not. */
  take(): boolean;
  /** Milliseconds until take() will succeed; 0 if it would now. */
  nextAvailableInMs(): number;
  /** Tokens available now (fractional). */
  available(): number;
}

// Refill is computed in floating point; without a little slack, waiting exactly
// nextAvailableInMs() could leave 0.9999999 tokens and a take() that fails.
const EPSILON = 1e-9;

export function createTokenBucket(options: TokenBucketOptions = {}): TokenBucket {
  const burst = options.burst ?? DEFAULT_BURST;
  const ratePerSec = options.ratePerSec ?? DEFAULT_RATE_PER_SEC;
  const now = options.now ?? (() => performance.now());

  if (ratePerSec === Infinity) {
    return { take: () => true, nextAvailableInMs: () => 0, available: () => Infinity };
  }
  if (!Number.isFinite(burst) || burst < 1) throw new RangeError(`burst must be a finite number >= 1, got ${burst}`);
  if (!Number.isFinite(ratePerSec) || ratePerSec <= 0) {
    throw new RangeError(`ratePerSec must be > 0 (or Infinity for no limit), got ${ratePerSec}`);
  }

  const perMs = ratePerSec / 1000;
  let tokens = burst;
  let last = now();

  function refill(): void {
    const t = now();
    // A clock that goes back must not mint or lose tokens; wait until it passes `last` again.
    if (t > last) {
      tokens = Math.min(burst, tokens + (t - last) * perMs);
      last = t;
    }
  }

  return {
    take(): boolean {
      refill();
      if (tokens < 1 - EPSILON) return false;
      tokens = Math.max(0, tokens - 1);
      return true;
    },
    nextAvailableInMs(): number {
      refill();
      if (tokens >= 1 - EPSILON) return 0;
      return Math.ceil((1 - tokens) / perMs);
    },
    available(): number {
      refill();
      return tokens;
    },
  };
}
