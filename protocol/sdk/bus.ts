/**
 * Connecting to the bus and calling methods with a deadline. dbus-next's calls have no timeout,
 * so every call the runtime makes goes through `callWithDeadline`, which fails with a named
 * Timeout error and forgets the pending reply handler.
 */
import dbus from '../dbus-next.js';
import type DBus from 'dbus-next';
import { HiveError, fromDBusError } from '../errors.js';
import type { WireMessage } from '../codec.js';
import { canMarshal, marshalMessage } from '../wire.js';
import { gateConnection, refusalOf, wakeReader, type BusGate, type Refusal } from './bus-gate.js';
import { HIVE_MESSAGE_SIGNATURE, MESSAGE_SIGNAL_SIGNATURE } from '../names.js';

export type MessageBus = DBus.MessageBus;
export type DBusMessage = DBus.Message;
export const { Message, Variant, MessageType } = dbus;

export const DBUS = { name: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', iface: 'org.freedesktop.DBus' } as const;

/** Connects to the bus at `address` (the session bus when none) and waits for the Hello reply; `gate`: see bus-gate.ts. */
export function connectBus(address?: string, timeoutMs = 10_000, gate?: BusGate): Promise<MessageBus> {
  const bus = dbus.sessionBus(address ? { busAddress: address } : {});
  // Before the first message can arrive: a gate decides on each body from its header (bus-gate.ts).
  if (gate) gateConnection(bus, gate);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new HiveError('Timeout', `no answer from the bus at ${address ?? 'the session bus'} within ${timeoutMs} ms`));
    }, timeoutMs);
    bus.once('connect', () => { clearTimeout(timer); resolve(bus); });
    bus.once('error', (err: unknown) => {
      clearTimeout(timer);
      reject(new HiveError('Failed', `cannot connect to the bus at ${address ?? 'the session bus'}: ${(err as Error)?.message ?? err}`, { cause: err }));
    });
  });
}

/** A gate for a connection that is not a node (the supervisor, `hive tap`): a body larger than `maxBodyBytes` is skipped unread. */
export function sizeGate(maxBodyBytes: number): BusGate {
  return { check: (h) => (h.bodyLength > maxBodyBytes ? 'TooLarge' : undefined) };
}

/**
 * For the first method handler of a gated connection: a call whose body the gate skipped unread is
 * answered here with its named error (InvalidMessage when too large, NotChild), and its refusal
 * returned; a refused signal returns its refusal too (nothing to answer). Undefined for any other
 * message, which the next handlers take.
 */
export function answerUnread(bus: MessageBus, msg: DBusMessage, limitBytes: number, refusedBy: string): Refusal | undefined {
  if (msg.signature !== '') return undefined; // decoded (or bodiless): the common case, cheap
  const refusal = refusalOf(bus, msg);
  if (!refusal || msg.type !== MessageType.METHOD_CALL) return refusal;
  const err = refusal === 'TooLarge'
    ? new HiveError('InvalidMessage', `${msg.member ?? 'call'}: the body is larger than ${limitBytes} bytes; not read`)
    : new HiveError('NotChild', `${msg.member}: ${msg.sender} is not an attached child of '${refusedBy}'; call Attach first`);
  try { bus.send(Message.newError(msg as unknown as string, err.dbusName, err.message)); } catch { /* the connection is closing */ }
  return refusal;
}

export interface CallSpec {
  destination: string;
  path: string;
  interface: string;
  member: string;
  signature?: string;
  body?: unknown[];
}

export async function callWithDeadline(bus: MessageBus, spec: CallSpec, timeoutMs: number): Promise<DBusMessage> {
  const msg = new Message({ ...spec, body: spec.body ?? [] });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      // dbus-next would keep the reply handler forever; forget it.
      const handlers = (bus as unknown as { _methodReturnHandlers?: Record<number, unknown> })._methodReturnHandlers;
      if (handlers && msg.serial !== null) delete handlers[msg.serial];
      reject(new HiveError('Timeout', `${spec.interface}.${spec.member} on ${spec.destination}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    const reply = await Promise.race([bus.call(msg), deadline]);
    return reply as DBusMessage;
  } catch (err) {
    throw fromDBusError(err);
  } finally {
    clearTimeout(timer);
  }
}

export function callBus(bus: MessageBus, member: string, signature: string, body: unknown[], timeoutMs = 5_000): Promise<DBusMessage> {
  return callWithDeadline(bus, { destination: DBUS.name, path: DBUS.path, interface: DBUS.iface, member, signature, body }, timeoutMs);
}

export async function addMatch(bus: MessageBus, rule: string): Promise<void> {
  await callBus(bus, 'AddMatch', 's', [rule]);
}

export async function removeMatch(bus: MessageBus, rule: string): Promise<void> {
  await callBus(bus, 'RemoveMatch', 's', [rule]).catch(() => undefined);
}

/** The unique name owning `name`, or undefined when nobody does. */
export async function nameOwner(bus: MessageBus, name: string): Promise<string | undefined> {
  if (name.startsWith(':')) return name;
  try {
    const reply = await callBus(bus, 'GetNameOwner', 's', [name]);
    return reply.body[0] as string;
  } catch {
    return undefined;
  }
}

// ---- the hot path: HiveMessage signals and Send calls through our own marshaller ----------

interface BusInternals {
  _connection: { stream: NodeJS.WritableStream & { writable: boolean } };
  _methodReturnHandlers: Record<number, (reply: DBusMessage) => void>;
  newSerial(): number;
}

/** Emits a HiveMessage with its route key (docs/protocol.md#routes) as a signal of `iface` at `path`, marshalled by protocol/wire.ts where it can. */
export function emitHiveSignal(bus: MessageBus, path: string, iface: string, member: string, route: string, wire: WireMessage): void {
  if (!canMarshal(wire)) {
    bus.send(Message.newSignal(path, iface, member, MESSAGE_SIGNAL_SIGNATURE, [route, wire]));
    return;
  }
  const b = bus as unknown as BusInternals;
  b._connection.stream.write(marshalMessage({ type: 4, serial: b.newSerial(), path, interface: iface, member, route }, wire));
}

/** Calls a method taking one HiveMessage, with a deadline; marshalled by protocol/wire.ts where it can. */
export function callHiveMethod(bus: MessageBus, spec: Omit<CallSpec, 'signature' | 'body'>, wire: WireMessage, timeoutMs: number): Promise<DBusMessage> {
  if (!canMarshal(wire)) return callWithDeadline(bus, { ...spec, signature: HIVE_MESSAGE_SIGNATURE, body: [wire] }, timeoutMs);
  const b = bus as unknown as BusInternals;
  const serial = b.newSerial();
  return new Promise<DBusMessage>((resolve, reject) => {
    const timer = setTimeout(() => {
      delete b._methodReturnHandlers[serial];
      reject(new HiveError('Timeout', `${spec.interface}.${spec.member} on ${spec.destination}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    b._methodReturnHandlers[serial] = (reply) => {
      clearTimeout(timer);
      if (reply.type === MessageType.ERROR) reject(fromDBusError({ type: reply.errorName, text: reply.body[0] as string }));
      else resolve(reply);
    };
    wakeReader(bus);
    b._connection.stream.write(marshalMessage({ type: 1, serial, path: spec.path, interface: spec.interface, member: spec.member, destination: spec.destination }, wire));
  });
}
