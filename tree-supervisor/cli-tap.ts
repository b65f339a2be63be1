/**
 * `hive tap`: every message flowing in the tree, decoded, like a packet monitor. It becomes a
 * D-Bus monitor (BecomeMonitor) for the Message signals and Send calls of org.hive.Node1, and
 * names the nodes from the supervisor's tree (refreshed as nodes come and go). `watchMessages`
 * is the monitor alone, for `hive web`'s message panel.
 */
import { HIVE_MESSAGE_SIGNATURE, MESSAGE_SIGNAL_SIGNATURE, NODE_INTERFACE } from '../protocol/names.js';
import { decode, type WireMessage } from '../protocol/codec.js';
import { DBUS, callWithDeadline, connectBus, MessageType, sizeGate, type DBusMessage } from '../protocol/sdk/bus.js';
import { LIMITS } from '../protocol/limits.js';
import { fetchTree } from './cli-client.js';
import type { RuntimeInfo } from './runtime-file.js';

/** One message as `hive tap --json` prints it. */
export interface TapMessage {
  time: number;
  direction: 'up' | 'down';
  /** A node's name where known, else the bus name. */
  from: string;
  to: string;
  route?: string;
  lines: string[];
  meta: Record<string, unknown>;
}

export interface MessageWatch {
  /** Resolves when the monitor's connection ends (stop() or the bus went away). */
  readonly closed: Promise<void>;
  stop(): void;
}

/** The tree's nodes as far as naming them goes. */
export type NodeNames = () => Promise<{ name: string; unique_name?: string | null }[]>;

/**
 * Becomes a monitor of the hive's messages and calls `each` with every one, decoded, until stopped.
 * Nodes are named from `nodes` (default: a Tree call of its own), asked again 2 s after each answer.
 */
export async function watchMessages(info: RuntimeInfo, each: (m: TapMessage) => void, nodes: NodeNames = async () => (await fetchTree(info)).nodes): Promise<MessageWatch> {
  // Only the latest tree's names and the one before (a node that just left may still have a
  // message on its way): a page left open for months does not grow with every restart.
  let names = new Map<string, string>();
  let before = new Map<string, string>();
  const nameOf = (bus: string) => names.get(bus) ?? before.get(bus);
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const refresh = async () => {
    try {
      const fresh = new Map<string, string>();
      // A child without a connection shows its parent's unique name: the first (the parent) keeps it.
      for (const n of await nodes()) if (n.unique_name && !fresh.has(n.unique_name)) fresh.set(n.unique_name, n.name);
      before = names;
      names = fresh;
    } catch { /* the hive may be going down */ }
  };
  // The next ask only once the last is answered: a hung supervisor is never asked twice at once.
  const loop = async () => {
    await refresh();
    if (!stopped) timer = setTimeout(() => void loop(), 2000);
  };
  await refresh();
  // Header first: a body larger than any HiveMessage a node accepts is skipped unread (and not shown).
  const bus = await connectBus(info.bus_address, undefined, sizeGate(LIMITS.maxCallBodyBytes));
  // A monitor must never send: swallow every call it sees instead of letting dbus-next answer it.
  bus.addMethodHandler(() => true);
  let ended!: () => void;
  const closed = new Promise<void>((resolve) => { ended = resolve; });
  const stop = () => {
    if (stopped) return;
    stopped = true;
    clearTimeout(timer);
    bus.disconnect();
    ended();
  };
  bus.on('message', (msg: DBusMessage) => {
    if (msg.interface !== NODE_INTERFACE) return;
    const down = msg.type === MessageType.SIGNAL && msg.member === 'Message';
    const up = msg.type === MessageType.METHOD_CALL && msg.member === 'Send';
    // SendAs(key, message) of a child without a connection: never show the key.
    const upAs = msg.type === MessageType.METHOD_CALL && msg.member === 'SendAs' && msg.signature === 's(aaya{sv})';
    // Message(route, message) going down; Send(message) going up.
    if (down && msg.signature !== MESSAGE_SIGNAL_SIGNATURE) return;
    if (up && msg.signature !== HIVE_MESSAGE_SIGNATURE) return;
    if (!upAs && !down && !up) return;
    const m = decode((upAs || down ? msg.body[1] : msg.body[0]) as WireMessage);
    const route = down ? msg.body[0] as string : undefined;
    const origin = m.meta['hive.origin'];
    const from = upAs ? `${typeof origin === 'string' ? origin : 'a child without a connection'}` : nameOf(msg.sender) ?? msg.sender;
    const to = up || upAs ? nameOf(msg.destination) ?? msg.destination : 'children';
    const meta: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(m.meta)) meta[k] = v && typeof v === 'object' && 'signature' in (v as object) ? (v as { value: unknown }).value : v;
    const lines = m.lines.map((l) => l.toString('utf8'));
    each({ time: Date.now(), direction: up || upAs ? 'up' : 'down', from, to, ...(route !== undefined ? { route } : {}), lines, meta });
  });
  bus.on('error', () => stop());
  // dbus-next emits no close event of its own: a bus that went away ends the watch too.
  (bus as unknown as { _connection?: { stream?: NodeJS.EventEmitter } })._connection?.stream?.on('close', () => stop());
  await callWithDeadline(bus, {
    destination: DBUS.name, path: DBUS.path, interface: 'org.freedesktop.DBus.Monitoring', member: 'BecomeMonitor', signature: 'asu',
    body: [[`type='signal',interface='${NODE_INTERFACE}',member='Message'`, `type='method_call',interface='${NODE_INTERFACE}',member='Send'`, `type='method_call',interface='${NODE_INTERFACE}',member='SendAs'`], 0],
  }, 5000).catch((err) => { stop(); throw err; });
  timer = setTimeout(() => void loop(), 2000);
  return { closed, stop };
}

export async function tap(info: RuntimeInfo, opts: { json: boolean; count?: number }, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  let seen = 0;
  let enough!: () => void;
  const done = new Promise<void>((resolve) => { enough = resolve; });
  const watch = await watchMessages(info, (m) => {
    if (opts.json) {
      out.write(JSON.stringify(m, (_, v) => (typeof v === 'bigint' ? Number(v) : v)) + '\n');
    } else {
      const t = new Date(m.time).toISOString().slice(11, 23);
      const what = m.lines.length ? m.lines.join(' ⏎ ') : `(${String(m.meta['hive.event'] ?? 'event')})`;
      out.write(`${t} ${m.direction === 'up' ? 'up  ' : 'down'} ${m.from} → ${m.to}  [${String(m.meta['hive.network'] ?? '-')}] ${what}  id=${String(m.meta['hive.id'] ?? '-')}${m.meta['hive.reply_to'] ? ` reply_to=${String(m.meta['hive.reply_to'])}` : ''}${m.route !== undefined ? ` route=${m.route}` : ''}\n`);
    }
    if (opts.count && ++seen >= opts.count) enough();
  });
  process.once('SIGINT', () => enough());
  process.once('SIGTERM', () => enough());
  // Said once it is watching (on stderr: stdout is the data), so a script or a test knows when to begin.
  process.stderr.write(`hive tap: watching '${info.instance}'${opts.count ? ` for ${opts.count} messages` : ''}\n`);
  await Promise.race([done, watch.closed]);
  watch.stop();
}
