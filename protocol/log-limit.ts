/**
 * Rate-limited logging for what an attacker controls the rate of (malformed server lines, CTCP
 * floods, refused calls): at most `max` log lines per key per window; the rest are only counted,
 * and the next line that is let through says how many were suppressed. Counting the refusals
 * themselves is the caller's job (counters), this only keeps the log readable and small.
 */

export interface LogLimiter {
  /** undefined: do not log; a number: log, and mention that many suppressed since the last one. */
  take(key: string): number | undefined;
}

export function createLogLimiter({ max = 5, windowMs = 60_000, maxKeys = 1024 }: { max?: number; windowMs?: number; maxKeys?: number } = {}): LogLimiter {
  const windows = new Map<string, { start: number; logged: number; suppressed: number }>();
  return {
    take(key) {
      const now = Date.now();
      let w = windows.get(key);
      if (!w || now - w.start >= windowMs) {
        const suppressed = w?.suppressed ?? 0;
        // Bounded: forget the oldest keys rather than grow with an attacker's variety of keys.
        if (!w && windows.size >= maxKeys) windows.delete(windows.keys().next().value as string);
        w = { start: now, logged: 0, suppressed: 0 };
        windows.set(key, w);
        w.logged++;
        return suppressed;
      }
      if (w.logged < max) { w.logged++; const s = w.suppressed; w.suppressed = 0; return s; }
      w.suppressed++;
      return undefined;
    },
  };
}

