/**
 * The counting of the stats filter, without I/O. A command going down is remembered by its
 * hive.id for a while; when the first answer to it comes up, the command counts: once for its
 * user, its channel and in the total, and once for each plugin that answered it. A command nobody
 * answers (a typo, chat that happens to start with the prefix) is not counted.
 */
export interface Counts {
  total: number;
  plugins: Record<string, number>;
  users: Record<string, number>;
  channels: Record<string, number>;
}

interface Pending { user: string; channel: string | undefined; at: number; counted: boolean; plugins: Set<string> }

export class Tally {
  private readonly pending = new Map<string, Pending>();

  constructor(public counts: Counts, private readonly keepMs = 120_000, private readonly maxPending = 10_000) {}

  /** A command went down: `id` is its hive.id, `channel` undefined for a private message. */
  command(id: string, user: string, channel: string | undefined, now: number): void {
    this.expire(now);
    if (this.pending.has(id)) return; // the same message again (a replay)
    this.pending.set(id, { user, channel, at: now, counted: false, plugins: new Set() });
  }

  /** An answer to `replyTo` came up from `plugin`. True if that changed the counts. */
  answered(replyTo: string, plugin: string): boolean {
    const p = this.pending.get(replyTo);
    if (!p || p.plugins.has(plugin)) return false;
    p.plugins.add(plugin);
    const c = this.counts;
    if (!p.counted) {
      p.counted = true;
      c.total++;
      bump(c.users, p.user);
      if (p.channel !== undefined) bump(c.channels, p.channel);
    }
    bump(c.plugins, plugin);
    return true;
  }

  private expire(now: number): void {
    for (const [id, p] of this.pending) {
      if (now - p.at < this.keepMs && this.pending.size < this.maxPending) break;
      this.pending.delete(id);
    }
  }
}

function bump(r: Record<string, number>, key: string): void {
  r[key] = (r[key] ?? 0) + 1;
}

/** The `n` largest entries, largest first (ties by name), as `name count`. */
export function top(r: Record<string, number>, n: number): [string, number][] {
  return Object.entries(r).sort(([a, x], [b, y]) => y - x || a.localeCompare(b)).slice(0, n);
}

/** The `stats` answer. */
export function summary(c: Counts, n: number, since: number): string {
  if (c.total === 0) return `no commands counted since ${new Date(since).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  const part = (label: string, r: Record<string, number>) => {
    const t = top(r, n);
    return `top ${label}: ${t.length ? t.map(([k, v]) => `${k} ${v}`).join(', ') : 'none'}`;
  };
  return `${c.total} command${c.total === 1 ? '' : 's'} since ${new Date(since).toISOString().slice(0, 10)} · ${part('plugins', c.plugins)} · ${part('users', c.users)} · ${part('channels', c.channels)}`;
}
