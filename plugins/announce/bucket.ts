/**
 * Request rate limit of the announce endpoint: a token bucket of `burst` that refills at `perSec`
 * tokens a second, starting full. Pure; the clock is injectable for the unit test.
 */
export interface Bucket {
  /** Takes a token and returns 0, or returns the ms until one is there (taking nothing). */
  take(): number;
}

export function createBucket(burst: number, perSec: number, now: () => number = () => performance.now()): Bucket {
  let tokens = burst;
  let last = now();
  return {
    take() {
      const t = now();
      tokens = Math.min(burst, tokens + ((t - last) / 1000) * perSec);
      last = t;
      // A little slack: waiting exactly the time given must be enough despite floating point.
      if (tokens >= 1 - 1e-9) { tokens -= 1; return 0; }
      return ((1 - tokens) / perSec) * 1000;
    },
  };
}
