/**
 * What the parts of a node (parent-link.ts, child-registry.ts, connectionless.ts, node-service.ts,
 * sequence-numbers.ts) share with the HiveNode that owns them: its identity, its log and counters,
 * the bus connection once it is up, whether it is stopping, and two small duties written once —
 * logging a refusal an attacker may pace, and checking the hive token. Read-only to the parts:
 * each keeps its own state; only HiveNode changes these.
 */
import type { Logger } from 'pino';
import { HiveError } from '../errors.js';
import { createLogLimiter } from '../log-limit.js';
import type { MessageBus } from './bus.js';

export interface Counters { in: number; out: number; dropped: number; errors: number; [k: string]: number }

/** A child: its node name and unique bus name (for a child without a connection, its well-known bus name). */
export interface ChildInfo { name: string; unique: string }

export interface NodeContext {
  /** The node's name, its well-known bus name and the hive instance it belongs to. */
  readonly name: string;
  readonly busName: string;
  readonly instance: string;
  readonly log: Logger;
  readonly counters: Counters;
  readonly callTimeoutMs: number;
  /** The connection; set once the node started. */
  readonly bus: MessageBus;
  /** The connection's unique name. */
  readonly uniqueName: string;
  readonly stopping: boolean;
  /** Logs a refusal at most a few times a minute per `key` (log-limit.ts); counting it is the caller's job. */
  refused(key: string, fields: Record<string, unknown>, text: string): void;
  /** Throws BadToken unless `token` is this hive's. */
  checkToken(token: string): void;
}

export interface ContextOptions {
  name: string;
  busName: string;
  instance: string;
  token: string;
  log: Logger;
  counters: Counters;
  callTimeoutMs: number;
  /** Read at each use: the connection comes later than the parts, and the node stops while they run. */
  bus: () => MessageBus;
  stopping: () => boolean;
}

/** The context a node gives its parts; refusals are logged at most a few times a minute per key (counted always). */
export function createContext(o: ContextOptions): NodeContext {
  const refusalLog = createLogLimiter();
  return {
    name: o.name,
    busName: o.busName,
    instance: o.instance,
    log: o.log,
    counters: o.counters,
    callTimeoutMs: o.callTimeoutMs,
    get bus() { return o.bus(); },
    get uniqueName() { return (o.bus() as unknown as { name: string }).name; },
    get stopping() { return o.stopping(); },
    refused: (key, fields, text) => {
      const suppressed = refusalLog.take(key);
      if (suppressed !== undefined) o.log.warn({ ...fields, ...(suppressed ? { suppressed } : {}) }, text);
    },
    checkToken: (token) => {
      if (token !== o.token) throw new HiveError('BadToken', 'the token does not match this hive');
    },
  };
}
