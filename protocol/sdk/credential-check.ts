/**
 * Who a node lets in (docs/protocol.md#credentials): the checks behind Attach, Join and SetParent;
 * and whom it follows: the check before attaching to a parent the supervisor did not name itself.
 *
 * Two rules, chosen once per node:
 * - token (no HIVE_VOUCH; nodes started by hand with one shared token, as tests do): the token
 *   given must equal this node's own.
 * - vouch (HIVE_VOUCH=1, set by the supervisor for every node it starts; each node holds a
 *   credential of its own): Attach(name, token) is let in only when the caller owns
 *   org.hive.<instance>.<name> (the bus daemon says so, nobody can forge it) AND the supervisor
 *   vouches that `token` is that name's credential (Supervisor1.Vouch, with a deadline; positive
 *   answers cached, vouch-cache.ts); Join(name, token) when the supervisor vouches; SetParent only
 *   from the connection that owns org.hive.<instance>.Supervisor (its token is not looked at).
 *   A node that took a dead parent's name thus learns only the child's own credential, which is
 *   worth nothing to it: it does not own the child's name. And a node attaches to no parent the
 *   supervisor did not name (a Reparent's target, a new owner of its parent's name) unless the
 *   supervisor says that connection is one of its configured ancestors (Supervisor1.CheckParent):
 *   a squatter on a dead parent's name, or a parent sending it elsewhere, gets no Attach at all.
 *
 * A refusal throws the named HiveError (BadToken, NotAuthorized, Timeout when the supervisor does
 * not answer in time); `parent` answers false instead (no answer is a no). Counting and logging
 * either is node-context.ts's job.
 */
import { HiveError } from '../errors.js';
import { SUPERVISOR_INTERFACE, SUPERVISOR_PATH, nodeBusName, supervisorBusName } from '../names.js';
import { callWithDeadline, nameOwner, type MessageBus } from './bus.js';
import { VouchCache } from './vouch-cache.js';

/** How long a node waits for the supervisor's Vouch before it refuses with Timeout. */
export const VOUCH_TIMEOUT_MS = 3000;
/** How long a node waits for the supervisor's CheckParent before it takes the silence as a no. */
export const CHECK_PARENT_TIMEOUT_MS = 2500;

export interface CredentialCheck {
  readonly mode: 'token' | 'vouch';
  /** Attach(name, token) from the connection `sender`. */
  attach(name: string, token: string, sender: string): Promise<void>;
  /** Join(name, token) of a child without a connection (its sender is a passing connection). */
  join(name: string, token: string): Promise<void>;
  /** SetParent(…, token) from the connection `sender`. */
  setParent(token: string, sender: string): Promise<void>;
  /**
   * Whether node `child` may attach to the connection `parentUnique` (a unique name), one the
   * supervisor did not name itself; rejects with the reason when not.
   */
  parent(child: string, parentUnique: string): Promise<void>;
}

/** The rule without a supervisor to ask: every token given must be this node's own. */
export function tokenCheck(own: string): CredentialCheck {
  const check = async (token: string) => {
    if (token !== own) throw new HiveError('BadToken', 'the token does not match this hive');
  };
  // Nobody to ask who a parent is: followed as before (nodes started by hand, in tests).
  return { mode: 'token', attach: (_n, token) => check(token), join: (_n, token) => check(token), setParent: (token) => check(token), parent: async () => undefined };
}

export interface VouchCheckOptions {
  instance: string;
  /** The node's connection, read at each use. */
  bus: () => MessageBus;
  timeoutMs?: number;
  checkParentTimeoutMs?: number;
  cache?: VouchCache;
}

/** The rule of a hive whose supervisor gives each node a credential of its own. */
export function vouchCheck(o: VouchCheckOptions): CredentialCheck {
  const cache = o.cache ?? new VouchCache();
  const timeoutMs = o.timeoutMs ?? VOUCH_TIMEOUT_MS;
  const supervisor = supervisorBusName(o.instance);

  /** One Supervisor1 question with a boolean answer (Vouch, CheckParent). */
  const ask = async (member: string, body: string[], deadlineMs: number): Promise<unknown> => {
    const reply = await callWithDeadline(o.bus(), { destination: supervisor, path: SUPERVISOR_PATH, interface: SUPERVISOR_INTERFACE, member, signature: 'ss', body }, deadlineMs);
    return reply.body[0];
  };

  const vouch = async (name: string, token: string, method: string): Promise<void> => {
    if (cache.has(name, token)) return;
    let ok: unknown;
    try {
      ok = await ask('Vouch', [name, token], timeoutMs);
    } catch (err) {
      if (err instanceof HiveError && err.code === 'Timeout') throw new HiveError('Timeout', `${method}: the supervisor did not vouch for '${name}' within ${timeoutMs} ms; try again`, { cause: err });
      throw new HiveError('BadToken', `${method}: the supervisor could not vouch for '${name}' (${(err as Error).message})`, { cause: err });
    }
    if (ok !== true) throw new HiveError('BadToken', `${method}: the supervisor does not vouch for this credential as '${name}'s`);
    cache.add(name, token);
  };

  return {
    mode: 'vouch',
    async attach(name, token, sender) {
      // Asked of the bus daemon first: cheap, and a caller that does not own the name never makes us ask the supervisor.
      const owner = await nameOwner(o.bus(), nodeBusName(o.instance, name));
      if (owner !== sender) throw new HiveError('BadToken', `Attach: the caller ${sender} does not own the bus name of '${name}'`);
      await vouch(name, token, 'Attach');
    },
    join: (name, token) => vouch(name, token, 'Join'),
    async setParent(_token, sender) {
      const owner = await nameOwner(o.bus(), supervisor);
      if (!owner || owner !== sender) throw new HiveError('NotAuthorized', `SetParent: only the supervisor (${supervisor}) moves a node; ${sender} is not it`);
    },
    async parent(child, parentUnique) {
      const deadline = o.checkParentTimeoutMs ?? CHECK_PARENT_TIMEOUT_MS;
      let ok: unknown;
      try {
        ok = await ask('CheckParent', [child, parentUnique], deadline);
      } catch (err) {
        // No answer (or an error: a supervisor without CheckParent) is a no: the supervisor's SetParent still moves us.
        throw new HiveError('NotAuthorized', `the supervisor did not approve ${parentUnique} as a parent of '${child}' (${(err as Error).message})`, { cause: err });
      }
      if (ok !== true) throw new HiveError('NotAuthorized', `the supervisor does not know ${parentUnique} as an ancestor of '${child}'`);
    },
  };
}
