/**
 * What to do about a node whose process is gone (OTP's restart strategy for one child), decided
 * purely from why it ended: a node stopped on purpose stays stopped; the terminal mouth that
 * finished ends the hive; exit 2 (the node refused its configuration, docs/protocol.md#exit-codes)
 * is failed at once, since starting it again would fail the same way; otherwise it is restarted
 * with exponential backoff until the restart intensity is exceeded, and then failed.
 */
import { backoffDelay } from '../protocol/backoff.js';
import type { RestartIntensity } from './restart-intensity.js';

/** The backoff between restarts of one node. */
export const RESTART_BACKOFF = { baseMs: 100, maxMs: 30_000 } as const;

export type DeathDecision =
  | { readonly do: 'stop' }
  | { readonly do: 'end-hive' }
  | { readonly do: 'fail'; readonly because: 'refused-config' | 'too-many-restarts'; readonly error: string }
  | { readonly do: 'restart'; readonly delayMs: number };

export interface Death {
  /** The node was being stopped (hive stop, unload, shutdown). */
  readonly stopping: boolean;
  /** The mouth of a terminal hive: exit 0 is the end of the user's input. */
  readonly terminalMouth: boolean;
  readonly code: number | null;
  /** How it ended, for the error text ("exited with SIGKILL"). */
  readonly why: string;
  /** The restarts in a row so far (the backoff's exponent). */
  readonly attempt: number;
  readonly now: number;
}

/** Decides; records the restart in `intensity` only when it would be one. */
export function decideOnDeath(d: Death, intensity: RestartIntensity): DeathDecision {
  if (d.stopping) return { do: 'stop' };
  if (d.terminalMouth && d.code === 0) return { do: 'end-hive' };
  if (d.code === 2) return { do: 'fail', because: 'refused-config', error: 'refused its configuration (exit 2); see the log' };
  if (intensity.record(d.now) === 'give-up') return { do: 'fail', because: 'too-many-restarts', error: `too many restarts (last: ${d.why})` };
  return { do: 'restart', delayMs: backoffDelay(d.attempt, RESTART_BACKOFF) };
}
