/**
 * What the parts of a node (parent-link.ts, child-registry.ts, connectionless.ts, node-service.ts,
 * sequence-numbers.ts) share with the HiveNode that owns them: its identity, its log and counters,
 * the bus connection once it is up, whether it is stopping, and two small duties written once —
 * logging a refusal an attacker may pace, and checking the hive token. Read-only to the parts:
 * each keeps its own state; only HiveNode changes these.
 */
import type { Logger } from 'pino';
import { HiveError } from '../errors.js';
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

/** The one BadToken check, for NodeContext.checkToken. */
export function checkHiveToken(expected: string, token: string): void {
  if (token !== expected) throw new HiveError('BadToken', 'the token does not match this hive');
}
