/**
 * org.hive.Supervisor1 on the bus (protocol/org.hive.Supervisor1.xml): the operator's methods,
 * each bounded by OPERATION_DEADLINE_MS and refused (NotAuthorized) to a connection that did not
 * Authenticate (operators.ts); Vouch and CheckParent for any caller; bodies read header first so that no call
 * larger than any the supervisor takes is decoded. What the methods do is the Supervisor's; this
 * module only serves them and keeps the gate.
 */
import type { Logger } from 'pino';
import { HiveError } from '../protocol/errors.js';
import { NAME_PATTERN, SUPERVISOR_PATH } from '../protocol/names.js';
import { SUPERVISOR1 } from '../protocol/supervisor1.js';
import { answerUnread, type DBusMessage, type MessageBus } from '../protocol/sdk/bus.js';
import { serveObject } from '../protocol/sdk/service.js';
import { YAML_LIMITS } from './yaml-limits.js';
import { withDeadline } from './deadline.js';
import { Operators } from './operators.js';
import { createLogLimiter } from '../protocol/log-limit.js';

/** The largest body the supervisor decodes: twice the largest Load spec, so that a spec just too big is refused by the YAML bound, which says so. */
export const SUPERVISOR_BODY_MAX = 2 * YAML_LIMITS.maxBytes;
/**
 * The longest any Supervisor1 method may take before it answers Timeout (the operation may go on
 * in the background). Below the CLI's own 30 s, so `hive` prints the named error, not its own.
 */
export const OPERATION_DEADLINE_MS = 20_000;
/**
 * Reload's own: its steps one after the other can take longer than one operation (each wave of
 * unloads up to a stop's 7 s, the restarts 7 s and a start, the mouth's Configure up to 15 s).
 * Below the CLI's 60 s for Reload.
 */
export const RELOAD_DEADLINE_MS = 55_000;

export interface SupervisorOps {
  treeJson(): Promise<string>;
  /** The node's last `max` log lines (all kept when 0), oldest first; NoSuchNode for an unknown node. */
  logs(name: string, max: number): string[];
  /** Re-reads the config file (`file`, else the hive's own), plans and (unless dryRun) applies the change; the ReloadResult as JSON. */
  reload(file: string, dryRun: boolean): Promise<string>;
  startNode(name: string): Promise<void>;
  stopNode(name: string): Promise<void>;
  restartNode(name: string): Promise<void>;
  load(spec: string): Promise<string>;
  unload(name: string): Promise<void>;
  /** Asks the hive to end; answered at once. */
  shutdown(): void;
  /** Whether `caller` is the mouth of a hive with a terminal network, which ends the hive at the end of its input. */
  isTerminalMouth(caller: string | undefined): boolean;
  /** Whether `credential` is node `name`'s (credentials.ts); `caller` is the asking connection. */
  vouch(name: string, credential: string, caller: string | undefined): boolean;
  /** Whether connection `parent` is accepted as a configured ancestor of node `child` (CheckParent). */
  checkParent(child: string, parent: string): Promise<boolean>;
  /** How many times a connection the supervisor did not start took a node's name. */
  impostors(): number;
  /** How many reloads were refused (a config with problems, a change that cannot be made live). */
  reloadsRefused(): number;
  /** A remote node's address and credential. */
  remoteAccess(name: string): [string, string];
}

export function serveSupervisor(bus: MessageBus, o: { instance: string; log: Logger; secret: string; ready: () => boolean; ops: SupervisorOps }): void {
  // Every operation answers within OPERATION_DEADLINE_MS (Reload: RELOAD_DEADLINE_MS): Timeout (logged) if it is not done by then.
  const bounded = <T>(what: string, p: Promise<T>, ms = OPERATION_DEADLINE_MS): Promise<T> => withDeadline(p, ms, what).catch((err: unknown) => {
    if (err instanceof HiveError && err.code === 'Timeout') o.log.error({ operation: what }, err.message);
    throw err;
  });
  const { ops } = o;
  const operators = new Operators({ bus, secret: o.secret, log: o.log });
  // The operator's methods: the gate first, then the operation.
  const op = (member: string, run: (m: DBusMessage) => Promise<unknown[] | void> | unknown[] | void) => (m: DBusMessage) => {
    operators.require(m.sender, member);
    return run(m);
  };
  let vouchRefused = 0;
  const vouchLog = createLogLimiter();
  let parentRefused = 0;
  const parentLog = createLogLimiter();
  bus.addMethodHandler((msg: DBusMessage) => answerUnread(bus, msg, SUPERVISOR_BODY_MAX, 'Supervisor') !== undefined);
  serveObject(bus, {
    path: SUPERVISOR_PATH,
    spec: SUPERVISOR1,
    log: o.log,
    properties: () => ({ Instance: o.instance, Ready: o.ready(), Counters: {
      vouch_refused: BigInt(vouchRefused), parent_refused: BigInt(parentRefused), impostor: BigInt(ops.impostors()), not_authorized: BigInt(operators.notAuthorized), reload_refused: BigInt(ops.reloadsRefused()),
    } }),
    methods: {
      Tree: async () => [await bounded('Tree', ops.treeJson())],
      Logs: op('Logs', (m) => [ops.logs(m.body[0] as string, m.body[1] as number)]),
      Reload: op('Reload', async (m) => [await bounded('Reload', ops.reload(m.body[0] as string, m.body[1] as boolean), RELOAD_DEADLINE_MS)]),
      Start: op('Start', async (m) => { await bounded('Start', ops.startNode(m.body[0] as string)); }),
      Stop: op('Stop', async (m) => { await bounded('Stop', ops.stopNode(m.body[0] as string)); }),
      Restart: op('Restart', async (m) => { await bounded('Restart', ops.restartNode(m.body[0] as string)); }),
      Load: op('Load', async (m) => [await bounded('Load', ops.load(m.body[0] as string))]),
      Unload: op('Unload', async (m) => { await bounded('Unload', ops.unload(m.body[0] as string)); }),
      // The operator's, and the terminal mouth's own at the end of its input (`echo '!ping' | hive up`).
      Shutdown: (m) => {
        if (!ops.isTerminalMouth(m.sender)) operators.require(m.sender, 'Shutdown');
        setImmediate(() => ops.shutdown());
      },
      RemoteAccess: op('RemoteAccess', (m) => ops.remoteAccess(m.body[0] as string)),
      Authenticate: async (m) => { await operators.authenticate(m.sender ?? '', m.body[0] as string); },
      Vouch: (m) => {
        const [name, credential] = m.body as [string, string];
        const ok = ops.vouch(name, credential, m.sender);
        if (!ok) {
          vouchRefused++;
          const suppressed = vouchLog.take('vouch');
          if (suppressed !== undefined) o.log.error({ name: name.slice(0, 80), caller: m.sender, suppressed }, 'vouch refused: not that node\'s credential');
        }
        return [ok];
      },
      CheckParent: async (m) => {
        const [child, parent] = m.body as [string, string];
        // Bounded input: a node name and a unique bus name, or no.
        const ok = NAME_PATTERN.test(child) && /^:[0-9]+\.[0-9]+$/.test(parent) && parent.length <= 64 && (await ops.checkParent(child, parent));
        if (!ok) {
          parentRefused++;
          const suppressed = parentLog.take('parent');
          if (suppressed !== undefined) o.log.warn({ child: child.slice(0, 80), parent: parent.slice(0, 80), caller: m.sender, suppressed }, 'parent refused: not a configured ancestor\'s own connection');
        }
        return [ok];
      },
    },
  });
}
