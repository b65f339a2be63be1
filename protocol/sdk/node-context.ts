/**
 * What the parts of a node (parent-link.ts, child-registry.ts, connectionless.ts, node-service.ts,
 * sequence-numbers.ts) share with the HiveNode that owns them: its identity, its log and counters,
 * the bus connection once it is up, whether it is stopping, and two small duties written once —
 * logging a refusal an attacker may pace, and checking a caller's credential (credential-check.ts:
 * the node's own token, or the supervisor's word in vouch mode), refusals counted as `bad_token`
 * and `not_authorized`; and asking whether a parent the supervisor did not name may be followed
 * (`parent_refused`). Read-only to the parts: each keeps its own state; only HiveNode changes these.
 */
import type { Logger } from 'pino';
import { HiveError } from '../errors.js';
import { createLogLimiter } from '../log-limit.js';
import type { MessageBus } from './bus.js';
import { tokenCheck, vouchCheck, type CredentialCheck } from './credential-check.js';

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
  /** Attach(name, token) from `sender`: resolves when let in, else BadToken (or Timeout), counted and logged. */
  checkAttach(name: string, token: string, sender: string): Promise<void>;
  /** Join(name, token): resolves when let in, else BadToken (or Timeout), counted and logged. */
  checkJoin(name: string, token: string, sender: string): Promise<void>;
  /** SetParent(…, token) from `sender`: resolves when let in, else BadToken or NotAuthorized, counted and logged. */
  checkSetParent(token: string, sender: string): Promise<void>;
  /** Whether to attach to `parentUnique`, a parent the supervisor did not name; a no is counted (`parent_refused`) and logged. */
  approveParent(parentUnique: string, via: string): Promise<boolean>;
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
  /** HIVE_VOUCH: check credentials through the supervisor (credential-check.ts), not against `token`. */
  vouch?: boolean;
}

/** The context a node gives its parts; refusals are logged at most a few times a minute per key (counted always). */
export function createContext(o: ContextOptions): NodeContext {
  const refusalLog = createLogLimiter();
  const credentials: CredentialCheck = o.vouch ? vouchCheck({ instance: o.instance, bus: o.bus }) : tokenCheck(o.token);
  const refused = (key: string, fields: Record<string, unknown>, text: string) => {
    const suppressed = refusalLog.take(key);
    if (suppressed !== undefined) o.log.warn({ ...fields, ...(suppressed ? { suppressed } : {}) }, text);
  };
  /** Counts and logs a refused credential; lets every error through unchanged. */
  const checked = (member: string, sender: string, name: string | undefined, check: Promise<void>) => check.catch((err: unknown) => {
    const code = err instanceof HiveError ? err.code : undefined;
    if (code === 'BadToken' || code === 'NotAuthorized') {
      const counter = code === 'BadToken' ? 'bad_token' : 'not_authorized';
      o.counters[counter] = (o.counters[counter] ?? 0) + 1;
      refused(`${counter}:${sender}`, { caller: sender, member, ...(name ? { as: name } : {}), reason: (err as Error).message }, `${member} refused: ${code === 'BadToken' ? 'bad credential' : 'not authorized'}`);
    }
    throw err;
  });
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
    refused,
    checkAttach: (name, token, sender) => checked('Attach', sender, name, credentials.attach(name, token, sender)),
    checkJoin: (name, token, sender) => checked('Join', sender, name, credentials.join(name, token)),
    checkSetParent: (token, sender) => checked('SetParent', sender, undefined, credentials.setParent(token, sender)),
    approveParent: (parentUnique, via) => credentials.parent(o.name, parentUnique).then(() => true, (err: unknown) => {
      o.counters.parent_refused = (o.counters.parent_refused ?? 0) + 1;
      refused(`parent_refused:${parentUnique}`, { parent: parentUnique, via, reason: (err as Error).message }, 'not following this parent: the supervisor did not approve it; waiting for its SetParent');
      return false;
    }),
  };
}
