/**
 * The web view's one connection to the supervisor: authenticated once with the runtime file's
 * credential (the same calls as the `hive` command's), kept for the life of `hive web`. It hears
 * NodeStateChanged, reads Tree, Logs and the mouth's Details, and makes Start/Stop/Restart/Unload.
 * The replies are bounded by a size gate, as the tap's are.
 */
import { z } from 'zod';
import { NODE_INTERFACE, NODE_PATH, SUPERVISOR_INTERFACE, SUPERVISOR_PATH, nodeBusName } from '../../protocol/names.js';
import { DBUS, addMatch, callBus, callWithDeadline, connectBus, MessageType, sizeGate, type DBusMessage, type MessageBus } from '../../protocol/sdk/bus.js';
import type { RuntimeInfo } from '../runtime-file.js';

/** Tree's answer as far as the web view reads it; the rest of each node is passed through. */
const treeSchema = z.object({
  instance: z.string(),
  nodes: z.array(z.looseObject({
    name: z.string(),
    kind: z.string(),
    state: z.string(),
    pid: z.number().nullable(),
    parent: z.string().nullable(),
    restarts: z.number(),
    uptime_ms: z.number(),
    misplaced: z.boolean().optional(),
    error: z.string().nullable().optional(),
    counters: z.record(z.string(), z.number()),
  })),
});
export type WebTree = z.infer<typeof treeSchema>;

export type NodeAction = 'Start' | 'Stop' | 'Restart' | 'Unload';

/** Twice the largest Tree we expect (a few hundred nodes with their counters). */
const MAX_REPLY_BYTES = 4 * 1024 * 1024;
const CALL_MS = 30_000;

export class SupervisorLink {
  private stateListeners: ((node: string, state: string) => void)[] = [];
  /** NodeStateChanged signals from anyone but the supervisor's own connection, ignored. */
  forged = 0;
  private constructor(private readonly bus: MessageBus, private readonly info: RuntimeInfo, readonly closed: Promise<void>) {}

  /**
   * `closed` resolves when the bus connection ends or when the supervisor's name loses the owner
   * it had when we authenticated: on a shared bus (session, an address) the bus outlives the hive.
   */
  static async open(info: RuntimeInfo, onForged?: () => void): Promise<SupervisorLink> {
    const bus = await connectBus(info.bus_address, 10_000, sizeGate(MAX_REPLY_BYTES));
    let ended!: () => void;
    const closed = new Promise<void>((r) => { ended = r; });
    bus.on('error', () => ended());
    // dbus-next emits no close event of its own: the stream's end is the hive's.
    (bus as unknown as { _connection?: { stream?: NodeJS.EventEmitter } })._connection?.stream?.on('close', () => ended());
    const link = new SupervisorLink(bus, info, closed);
    // The supervisor's unique name: a signal is its only if it comes from there (a signal sent
    // straight to us passes no match rule, so any peer could send one).
    let owner: string | undefined;
    bus.on('message', (msg: DBusMessage) => {
      if (msg.type !== MessageType.SIGNAL) return;
      if (msg.sender === DBUS.name && msg.interface === DBUS.iface && msg.member === 'NameOwnerChanged' && msg.body[0] === info.supervisor) {
        if (owner !== undefined && msg.body[2] !== owner) ended();
        return;
      }
      if (msg.interface !== SUPERVISOR_INTERFACE || msg.member !== 'NodeStateChanged' || msg.signature !== 'ss') return;
      if (owner === undefined || msg.sender !== owner) { link.forged++; onForged?.(); return; }
      for (const l of link.stateListeners) l(msg.body[0] as string, msg.body[1] as string);
    });
    try {
      // The match first, then the owner: a change in between is not missed.
      await addMatch(bus, `type='signal',sender='${DBUS.name}',interface='${DBUS.iface}',member='NameOwnerChanged',arg0='${info.supervisor}'`);
      owner = String((await callBus(bus, 'GetNameOwner', 's', [info.supervisor])).body[0]);
      await callWithDeadline(bus, { destination: owner, path: SUPERVISOR_PATH, interface: SUPERVISOR_INTERFACE, member: 'Authenticate', signature: 's', body: [info.token] }, CALL_MS);
      await addMatch(bus, `type='signal',sender='${info.supervisor}',interface='${SUPERVISOR_INTERFACE}',member='NodeStateChanged'`);
    } catch (err) {
      bus.disconnect();
      throw err;
    }
    link.owner = owner;
    return link;
  }

  /** Every call goes to the owner we authenticated with, never to a name someone took since. */
  private owner = '';

  onStateChanged(fn: (node: string, state: string) => void): void {
    this.stateListeners.push(fn);
  }

  private async call(member: string, signature = '', body: unknown[] = []): Promise<unknown[]> {
    const reply = await callWithDeadline(this.bus, { destination: this.owner, path: SUPERVISOR_PATH, interface: SUPERVISOR_INTERFACE, member, signature, body }, CALL_MS);
    return reply.body;
  }

  async tree(): Promise<WebTree> {
    const [json] = await this.call('Tree');
    return treeSchema.parse(JSON.parse(String(json)));
  }

  async logs(node: string, max: number): Promise<string[]> {
    const [lines] = await this.call('Logs', 'su', [node, max]);
    return z.array(z.string()).parse(lines);
  }

  async act(action: NodeAction, node: string): Promise<void> {
    await this.call(action, 's', [node]);
  }

  /** The mouth's Details (`<network>.state`, …); {} when the mouth does not answer. */
  async mouthDetails(): Promise<Record<string, unknown>> {
    try {
      const reply = await callWithDeadline(this.bus, { destination: nodeBusName(this.info.instance, 'mouth'), path: NODE_PATH, interface: 'org.freedesktop.DBus.Properties', member: 'Get', signature: 'ss', body: [NODE_INTERFACE, 'Details'] }, 5_000);
      const v = (reply.body[0] as { value: Record<string, { value: unknown }> }).value;
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, typeof x === 'object' && x && 'value' in x ? x.value : x]));
    } catch {
      return {};
    }
  }

  /** The supervisor's Counters property (vouch_refused, parent_refused, impostor, not_authorized); {} when it does not answer. */
  async supervisorCounters(): Promise<Record<string, number>> {
    try {
      const reply = await callWithDeadline(this.bus, { destination: this.owner, path: SUPERVISOR_PATH, interface: 'org.freedesktop.DBus.Properties', member: 'Get', signature: 'ss', body: [SUPERVISOR_INTERFACE, 'Counters'] }, 5_000);
      const v = (reply.body[0] as { value: Record<string, bigint | number> }).value;
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, Number(x)]));
    } catch {
      return {};
    }
  }

  close(): void {
    this.bus.disconnect();
  }
}
