/**
 * Each node's most recent log lines, for Supervisor1.Logs (`hive logs`, the web view): the JSON
 * lines `hive up` writes about that node — the node's own (node-process.ts forwards them under
 * `node: NAME`) and the supervisor's about it (`child: NAME`) — exactly as written to the log,
 * after redaction and the level filter. A bounded ring per node, each line capped.
 *
 * The lines are taken at the logger's stream (one tee in `hive up`), not at each call site: what
 * the ring holds is what the journal got, and no log call can forget to record.
 */
import { pino, type Logger } from 'pino';

/** Lines kept per node. */
export const LOG_RING_LINES = 200;
/** The longest line kept as it is, in bytes; a longer one is kept as a stub that says so. */
export const LOG_LINE_MAX = 2048;
/** Lines longer than this are not parsed to find their node (the name is read from their start): they are kept as a stub anyway. */
const PARSE_MAX = 4 * LOG_LINE_MAX;

export class NodeLogs {
  private readonly rings = new Map<string, string[]>();
  /** Lines that were too long and kept as a stub. */
  truncated = 0;

  /** `known(name)`: only the hive's nodes get a ring (a name in a log line is no reason to keep memory). */
  constructor(private readonly known: (name: string) => boolean, private readonly ringLines = LOG_RING_LINES) {}

  /** One serialized log line (with or without its newline). */
  take(raw: string): void {
    const line = raw.endsWith('\n') ? raw.slice(0, -1) : raw;
    const node = nodeOf(line);
    if (node === undefined || !this.known(node)) return;
    let kept = line;
    // Bytes, not characters: a line of non-ASCII text is up to 3 bytes a character.
    if (line.length > LOG_LINE_MAX / 3 && Buffer.byteLength(line) > LOG_LINE_MAX) {
      this.truncated++;
      kept = stub(line, node);
    }
    let ring = this.rings.get(node);
    if (!ring) this.rings.set(node, (ring = []));
    ring.push(kept);
    if (ring.length > this.ringLines) ring.splice(0, ring.length - this.ringLines);
  }

  /** The node's last `max` lines (all kept when 0), oldest first. */
  lines(node: string, max: number): string[] {
    const ring = this.rings.get(node) ?? [];
    return max > 0 && max < ring.length ? ring.slice(-max) : [...ring];
  }

  /** A node unloaded: its lines go with it. */
  forget(node: string): void {
    this.rings.delete(node);
  }
}

/**
 * The node a line is about: the supervisor's line (`kind: supervisor`, which no node's forwarded
 * line can carry: node-process.ts drops it) by its `child` field, any other line by its `node`
 * (bound by node-process.ts, first). A node's own line may have a `child` of its own (a parent
 * logging about its child): it never places the line in another node's log.
 */
function nodeOf(line: string): string | undefined {
  if (line.length <= PARSE_MAX) {
    try {
      const obj = JSON.parse(line) as Record<string, unknown>;
      if (obj.kind === 'supervisor') return typeof obj.child === 'string' ? obj.child : undefined;
      return typeof obj.node === 'string' ? obj.node : undefined;
    } catch { return undefined; }
  }
  // pino writes the bindings first: a forwarded node's name is near the start; a supervisor's long
  // line is placed when `child` is its first field (as the supervisor writes it).
  const m = /^\{"level":\d+,"time":\d+,"node":"([A-Za-z0-9_-]{1,64})"(,"kind":"supervisor")?(?:,"child":"([A-Za-z0-9_-]{1,64})")?/.exec(line);
  if (!m) return undefined;
  return m[2] ? m[3] : m[1];
}

/** A too-long line as a line that says so: its level, time and the start of its message. */
function stub(line: string, node: string): string {
  const level = Number(/"level":(\d+)/.exec(line.slice(0, 100))?.[1] ?? 30);
  const time = Number(/"time":(\d+)/.exec(line.slice(0, 100))?.[1] ?? Date.now());
  const msg = /"msg":"((?:[^"\\]|\\.){0,400})/.exec(line)?.[1];
  let text = '';
  try { text = msg !== undefined ? (JSON.parse(`"${msg}"`) as string) : ''; } catch { /* cut inside an escape */ }
  return JSON.stringify({ level, time, node, msg: text, truncated: true, bytes: Buffer.byteLength(line) });
}

/**
 * Every line the loggers (and their children: they share a stream) write also goes to `each`,
 * once per stream. pino has no hook on a made logger's output; its stream is reachable by its
 * symbol and written one whole line per call (sonic-boom, or a transport's thread stream).
 */
export function teeLogLines(logs: Logger[], each: (line: string) => void): void {
  const streams = new Set(logs.map((l) => (l as unknown as Record<symbol, { write(s: string): boolean } | undefined>)[pino.symbols.streamSym]));
  for (const stream of streams) {
    if (!stream) continue;
    const write = stream.write.bind(stream);
    stream.write = (s: string) => {
      try { each(s); } catch { /* the log must not fall because a copy failed */ }
      return write(s);
    };
  }
}

/** A line of Logs as text for `hive logs`: time, level, message, its other fields. */
export function formatLogLine(line: string): string {
  let obj: Record<string, unknown>;
  try { obj = JSON.parse(line) as Record<string, unknown>; } catch { return line; }
  const { level, time, msg, node: _node, kind: _kind, ...rest } = obj;
  const when = typeof time === 'number' ? new Date(time).toISOString().slice(11, 23) : '-';
  const lvl = LEVEL_NAMES[Number(level)] ?? String(level);
  const fields = Object.keys(rest).length ? ' ' + JSON.stringify(rest) : '';
  return `${when} ${lvl.padEnd(5)} ${String(msg ?? '')}${fields}`;
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
