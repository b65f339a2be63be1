/**
 * Exponential backoff with jitter, for restarts and reconnects: base * factor^attempt,
 * capped at maxMs, then spread by ±jitter so that many nodes dying together
 * (e.g. when their parent dies) do not all come back in the same instant.
 */

export interface BackoffOptions {
  /** Delay of attempt 0, in ms. */
  baseMs?: number;
  /** Upper bound of any delay, in ms (jitter never exceeds it). */
  maxMs?: number;
  factor?: number;
  /** Fraction of the delay added or removed at random: 0.2 → ±20%. */
  jitter?: number;
  /** Source of randomness in [0, 1); injectable for tests. */
  random?: () => number;
}

/** The delay in whole ms before retry number `attempt` (0-based; negative or NaN counts as 0). */
export function backoffDelay(
  attempt: number,
  { baseMs = 100, maxMs = 30_000, factor = 2, jitter = 0.2, random = Math.random }: BackoffOptions = {},
): number {
  const n = attempt > 0 ? Math.floor(attempt) : 0; // NaN > 0 is false
  // Math.pow may overflow to Infinity on large attempts; the cap absorbs it.
  const raw = Math.min(maxMs, baseMs * Math.pow(factor, n));
  const spread = Math.min(Math.max(jitter, 0), 1);
  const withJitter = raw * (1 + spread * (2 * random() - 1));
  return Math.round(Math.min(maxMs, Math.max(0, withJitter)));
}
