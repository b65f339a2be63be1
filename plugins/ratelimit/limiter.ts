/**
 * The rate limiter of the ratelimit filter, without I/O: per key (a user), at most `max` accepted
 * events within any `perMs` window (a sliding log of the accepted ones). The first refused event
 * of a run asks for a notice, the rest of the run are silent; an accepted event ends the run.
 * Refused events are not logged as accepted, so hammering does not lengthen the wait.
 */
export type Verdict = { ok: true } | { ok: false; notice: boolean; waitMs: number };

interface Entry { times: number[]; noticed: boolean }

export class Limiter {
  private readonly users = new Map<string, Entry>();
  private lastSweep = 0;

  constructor(private readonly max: number, private readonly perMs: number) {}

  check(key: string, now: number): Verdict {
    this.sweep(now);
    let e = this.users.get(key);
    if (!e) this.users.set(key, (e = { times: [], noticed: false }));
    const since = now - this.perMs;
    while (e.times.length && e.times[0]! <= since) e.times.shift();
    if (e.times.length < this.max) {
      e.times.push(now);
      e.noticed = false;
      return { ok: true };
    }
    const notice = !e.noticed;
    e.noticed = true;
    return { ok: false, notice, waitMs: e.times[0]! + this.perMs - now };
  }

  /** Users limited right now (all their slots in use). */
  limited(now: number): number {
    let n = 0;
    for (const e of this.users.values()) if (e.times.filter((t) => t > now - this.perMs).length >= this.max) n++;
    return n;
  }

  /** Forgets users whose window has passed, at most once per window, so the map stays small. */
  private sweep(now: number): void {
    if (now - this.lastSweep < this.perMs) return;
    this.lastSweep = now;
    for (const [k, e] of this.users) if (!e.times.length || e.times[e.times.length - 1]! <= now - this.perMs) this.users.delete(k);
  }

  get size(): number { return this.users.size; }
}
