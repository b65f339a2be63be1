/**
 * What the bench measures on IRC, for any bot on its ngIRCd: sequential `!ping` → `pong` round
 * trips and pipelined `!ping` bursts, timed on the wire by the raw client (raw-irc.ts), and the
 * statistics the report keeps (quantiles of one run, the median of several runs with min and max).
 */
import type { Ircd } from '../../test/helpers/ircd.js';
import type { RawIrc } from './raw-irc.js';

export const CHANNEL = '#bench';
export const NO_FLOOD = { burst: 1_000_000, rate: 1_000_000 };
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

function quantile(sorted: number[], q: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}
export function pct(values: number[]) {
  const s = [...values].sort((a, b) => a - b);
  return { p50: round(quantile(s, 0.5)), p90: round(quantile(s, 0.9)), p99: round(quantile(s, 0.99)) };
}
/** The median of several runs, with min and max. */
export function spread(values: number[], d = 2) {
  const s = [...values].sort((a, b) => a - b);
  return { median: round(s[Math.floor((s.length - 1) / 2)]!, d), min: round(s[0]!, d), max: round(s[s.length - 1]!, d) };
}

/** A hive config's `networks:` for the bench's ngIRCd. */
export function ircNetwork(ircd: Ircd, nick: string, flood?: { burst: number; rate: number }) {
  return { bench: { type: 'irc', host: ircd.host, port: ircd.port, nick, channels: [CHANNEL], ...(flood ? { flood } : {}), reconnect: { min_delay: '50ms', max_delay: '1s' } } };
}

export async function waitJoined(client: RawIrc, nick: string, timeoutMs = 20_000): Promise<void> {
  if (client.lines.some((s) => s.line.startsWith(`:${nick}!`) && s.line.includes(` JOIN `))) return;
  await client.waitFor((l) => l.startsWith(`:${nick}!`) && l.includes(' JOIN '), timeoutMs);
}

/** Sequential !ping → pong round trips, measured on the wire. */
async function latency(client: RawIrc, nick: string, count: number): Promise<number[]> {
  const out: number[] = [];
  const isPong = (l: string) => l.startsWith(`:${nick}!`) && l.endsWith(`PRIVMSG ${CHANNEL} :pong`);
  for (let i = 0; i < 20; i++) { const w = client.waitFor(isPong, 10_000); client.send(`PRIVMSG ${CHANNEL} :!ping`); await w; }
  for (let i = 0; i < count; i++) {
    const w = client.waitFor(isPong, 10_000);
    const t0 = performance.now();
    client.send(`PRIVMSG ${CHANNEL} :!ping`);
    out.push((await w).at - t0);
  }
  return out;
}

/** `runs` latency runs of `count` pings each: the median (min, max) of each quantile. */
export async function latencyRuns(client: RawIrc, nick: string, runs: number, count: number) {
  const out = [];
  for (let r = 0; r < runs; r++) out.push(pct(await latency(client, nick, count)));
  return { p50: spread(out.map((x) => x.p50)), p90: spread(out.map((x) => x.p90)), p99: spread(out.map((x) => x.p99)) };
}
export type LatencyRuns = Awaited<ReturnType<typeof latencyRuns>>;

/**
 * M pipelined !ping lines in one write; replies per second and replies lost. A reply is lost when
 * none came for 3 s; the first may take longer (60 s): with ten plugins the first pong of a
 * 5,000-line burst comes after seconds, behind the signals the bus delivers to every plugin.
 */
export async function throughput(client: RawIrc, nick: string, m: number) {
  const prefix = `:${nick}!`;
  const start = client.lines.length;
  const t0 = performance.now();
  client.send(...Array.from({ length: m }, () => `PRIVMSG ${CHANNEL} :!ping`));
  let last = t0, got = 0, idleSince = performance.now();
  while (got < m && performance.now() - idleSince < (got ? 3000 : 60_000)) {
    await sleep(20);
    const now2 = client.lines.slice(start).filter((s) => s.line.startsWith(prefix) && s.line.endsWith(':pong'));
    if (now2.length > got) { got = now2.length; last = now2[now2.length - 1]!.at; idleSince = performance.now(); }
  }
  return { replies_per_s: Math.round((got / (last - t0)) * 1000), lost: m - got };
}

/** `runs` pipelined bursts: the median (min, max) replies per second, and the most lost in one. */
export async function throughputRuns(client: RawIrc, nick: string, runs: number, m: number) {
  const out = [];
  for (let r = 0; r < runs; r++) out.push(await throughput(client, nick, m));
  return { replies_per_s: spread(out.map((x) => x.replies_per_s), 0), lost: Math.max(...out.map((x) => x.lost)) };
}
