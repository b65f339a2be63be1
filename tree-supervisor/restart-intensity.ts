/**
 * OTP-style restart intensity: a node may be restarted at most `max` times within any sliding
 * window of `withinMs`; one more restart than that means the fault is not transient, so the
 * supervisor gives up on the node instead of looping forever.
 * Time is passed in (no clock inside) so the accounting is deterministic and testable.
 */

export type RestartDecision = 'restart' | 'give-up';

export interface RestartIntensityOptions {
  /** Restarts allowed within the window; 0 means give up on the first death. */
  max: number;
  /** Length of the sliding window in ms. */
  withinMs: number;
}

export interface RestartIntensity {
  /** Count a restart at time `now` (ms) and say whether it may happen. Sticky once given up. */
  record(now: number): RestartDecision;
  /** Restarts counted within the window ending at `now` (for status output). */
  recent(now: number): number;
  /** Forget all history, e.g. when an operator restarts a failed node by hand. */
  reset(): void;
}

export function createRestartIntensity({ max, withinMs }: RestartIntensityOptions): RestartIntensity {
  if (!Number.isInteger(max) || max < 0) throw new RangeError(`max must be an integer >= 0, got ${max}`);
  if (!Number.isFinite(withinMs) || withinMs < 0) throw new RangeError(`withinMs must be a number >= 0, got ${withinMs}`);

  let times: number[] = [];
  let gaveUp = false;

  // A restart at time t still counts at `now` while now - t < withinMs.
  const prune = (now: number) => {
    times = times.filter((t) => now - t < withinMs);
  };

  return {
    record(now) {
      if (gaveUp) return 'give-up';
      prune(now);
      times.push(now);
      if (times.length > max) {
        gaveUp = true;
        return 'give-up';
      }
      return 'restart';
    },
    recent(now) {
      prune(now);
      return times.length;
    },
    reset() {
      times = [];
      gaveUp = false;
    },
  };
}
