/**
 * Deadlines for everything the supervisor waits on (docs/cli.md#deadlines): a promise that does not
 * settle in time fails with a named Timeout (`withDeadline`), and a process that does not stop in
 * time is forced and, past a second deadline, given up on (`stopWithDeadline`). No wait is open-ended.
 */
import { HiveError } from '../protocol/errors.js';

/** Settles like `p`, or rejects with a named Timeout after `ms`. */
export function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HiveError('Timeout', `${what}: not done within ${ms} ms`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

export interface StopSpec {
  /** Settles when the thing has stopped (a process's exit; a rejection counts as stopped too). */
  gone: Promise<unknown>;
  /** Asks it to stop (SIGTERM); left out when `gone` is itself the asking. */
  ask?: () => void;
  /** Makes it stop (SIGKILL), after `graceMs`. */
  force: () => void;
  graceMs: number;
  /** How long to wait after `force` before giving up (a process in D state cannot die). */
  forceWaitMs: number;
}

/**
 * Asks, forces after `graceMs`, and gives up `forceWaitMs` later: resolves true once it stopped,
 * false when it was given up on. Never rejects, never waits longer than graceMs + forceWaitMs.
 */
export async function stopWithDeadline(s: StopSpec): Promise<boolean> {
  const gone = s.gone.then(() => true, () => true);
  s.ask?.();
  const force = setTimeout(() => { try { s.force(); } catch { /* already gone */ } }, s.graceMs);
  try {
    return await withDeadline(gone, s.graceMs + s.forceWaitMs, 'stopping').catch(() => false);
  } finally {
    clearTimeout(force);
  }
}
