/**
 * Reading D-Bus messages header first (issue 14, item 8).
 *
 * dbus-next decodes every message body as soon as it arrives (lib/message.js `unmarshalMessages`),
 * before anyone can look at who sent it: a `Send` of a million-entry a{sv} from a connection that
 * was not even a child cost the mouth seconds and a gigabyte before it could refuse it.
 *
 * `installBusGate()` replaces `unmarshalMessages` on dbus-next's module object (lib/connection.js
 * calls it through that object once the handshake is done) with a reader that mirrors the one of
 * dbus-next **0.10.2** (pinned in package.json) but reads the header fields first and asks the
 * connection's gate about the body: decode it, exactly as dbus-next would, or skip it unread —
 * consumed in chunks as it arrives, never held whole — and deliver the message with an empty body,
 * remembering why (`refusalOf`), so the node answers with a named error at the cost of the header.
 * A connection without a gate (`gateConnection` not called) gets dbus-next's behaviour.
 * The sender in the header is set by the bus daemon and cannot be forged.
 */
import { createRequire } from 'node:module';
import type dbus from 'dbus-next';
import { readHiveBody } from '../wire.js';

const require = createRequire(import.meta.url);

/** Why a body was not decoded: the caller is not allowed to send it, or it is larger than allowed. */
export type Refusal = 'NotChild' | 'TooLarge';

/** The header of a message, as the gate sees it before the body is read. */
export interface GateHeader {
  type: number;
  serial: number;
  sender?: string;
  destination?: string;
  path?: string;
  interface?: string;
  member?: string;
  signature?: string;
  bodyLength: number;
}

export interface BusGate {
  /** Decides, from the header alone, whether the body may be decoded: undefined to decode it. */
  check(header: GateHeader): Refusal | undefined;
}

interface DBusMessageLike { serial?: number | null; sender?: string }

interface GateState {
  gate: BusGate;
  /** Read what arrived at most this often (ms; 0: at once) while no answer to a call of ours is awaited (setReadDelay). */
  readDelayMs: number;
  awaiting: () => boolean;
  /** Reads again at once if reading is paused (set by the reader). */
  wake?: () => void;
  current: { serial: number; sender: string | undefined; refusal: Refusal } | undefined;
  /** dbus-next's connection: a HiveMessage read by protocol/wire.ts is emitted on it directly. */
  connection: NodeJS.EventEmitter;
}

const gates = new WeakMap<object, GateState>();
let installed = false;

/** Gates the connection of `bus`: every message it receives from now on is checked header first. */
export function gateConnection(bus: dbus.MessageBus, gate: BusGate): void {
  installBusGate();
  const handlers = (bus as unknown as { _methodReturnHandlers: Record<number, unknown> })._methodReturnHandlers;
  const awaiting = () => { for (const _ in handlers) return true; return false; };
  const state: GateState = { gate, current: undefined, connection: (bus as unknown as { _connection: NodeJS.EventEmitter })._connection, readDelayMs: 0, awaiting };
  gates.set(streamOf(bus), state);
  // A call's answer is not kept waiting by a paused reader: calling wakes it.
  const call = bus.call.bind(bus);
  bus.call = (msg) => { state.wake?.(); return call(msg); };
}

/** Reads what waits at once, for a call whose answer must not wait for the next read (bus.ts). */
export function wakeReader(bus: dbus.MessageBus): void {
  gates.get(streamOf(bus))?.wake?.();
}

/**
 * Reads what the daemon sent at most every `ms` milliseconds (0: as it comes), except while an
 * answer to one of this connection's calls is awaited. For a node that takes traffic not addressed
 * to it (seen, a bridge): woken once for what came in `ms`, not once per message, it costs the
 * machine a fraction of the CPU a busy channel would (docs/performance.md), and the nodes on the
 * path of an answer get the cores. Nothing is dropped or reordered: it waits in the socket.
 */
export function setReadDelay(bus: dbus.MessageBus, ms: number): void {
  const g = gates.get(streamOf(bus));
  if (g) g.readDelayMs = ms;
}

/** Why the body of `msg`, a message being handled right now, was not decoded; undefined when it was. */
export function refusalOf(bus: dbus.MessageBus, msg: DBusMessageLike): Refusal | undefined {
  // The message is delivered synchronously from the reader, so "current" is the one in hand.
  const c = gates.get(streamOf(bus))?.current;
  return c && c.serial === msg.serial && c.sender === msg.sender ? c.refusal : undefined;
}

function streamOf(bus: dbus.MessageBus): object {
  return (bus as unknown as { _connection: { stream: object } })._connection.stream;
}

/** Installs the header-first reader on dbus-next's message module; idempotent. */
export function installBusGate(): void {
  if (installed) return;
  installed = true;
  const messageModule = require('dbus-next/lib/message.js') as { unmarshalMessages: typeof gatedUnmarshalMessages };
  messageModule.unmarshalMessages = gatedUnmarshalMessages;
}

const { Message } = require('dbus-next/lib/message-type.js') as { Message: new (m: Record<string, unknown>) => unknown };
const { Variant } = require('dbus-next/lib/variant.js') as { Variant: new (signature: string, value: unknown) => unknown };
const makeVariant = (signature: string, value: unknown) => new Variant(signature, value);

const DBusBuffer = require('dbus-next/lib/dbus-buffer.js') as new (buf: Buffer, start: number, endian: number, fds: unknown, opts: unknown) => {
  readArray(sig: unknown, length: number): [number, [unknown, [unknown]]][];
  read(signature: string): unknown;
};
const constants = require('dbus-next/lib/constants.js') as { endianness: { le: number }; headerTypeName: (string | null)[] };
const headerSignature = require('dbus-next/lib/header-signature.json') as [{ child: [unknown] }];

type Readable = NodeJS.ReadableStream & { read(size?: number, x?: null): (Buffer & { data?: Buffer; fds?: unknown }) | null; unshift(chunk: Buffer): void };

/**
 * What one read must hold for the reader to count as busy (setReadDelay), and for how long it then
 * reads without pausing. A unix socket holds some 60 small messages (each write costs the kernel a
 * buffer of its own): a read near that means the daemon is queueing, and pausing would cut the
 * reader's throughput to what the socket holds per pause.
 */
const BUSY_MESSAGES = 40;
const BUSY_BYTES = 48 * 1024;
const BUSY_MS = 500;

/** dbus-next 0.10.2's `unmarshalMessages`, reading the header fields before deciding on the body. */
function gatedUnmarshalMessages(stream: Readable, onMessage: (message: Record<string, unknown>) => void, opts: unknown): void {
  const LE = constants.endianness.le;
  let state = 0; // 0: fixed header, 1: header fields, 2: body to decode, 3: body to skip
  let header: Buffer;
  let endian = 0;
  let fieldsLength = 0, fieldsLengthPadded = 0, bodyLength = 0, toSkip = 0;
  let message: Record<string, unknown> = {};
  let fds: unknown;
  let refusal: Refusal | undefined;

  // The connection's gate, looked up once: gateConnection() runs before the handshake, so before this reader.
  let gateState: GateState | undefined | null = null;
  const stateOf = () => (gateState === null ? (gateState = gates.get(stream)) : gateState);

  let delivered = 0;
  const deliver = () => {
    delivered++;
    const g = refusal ? stateOf() : undefined;
    if (refusal && g) g.current = { serial: message.serial as number, sender: message.sender as string | undefined, refusal };
    try {
      onMessage(message);
    } finally {
      if (g) g.current = undefined;
      refusal = undefined;
      state = 0;
    }
  };

  // Pausing means not reading the socket at all: the daemon's messages wait in the kernel and come
  // in one read, one wake-up. node's Readable keeps reading into its buffer whatever the listener
  // does, so the pipe's own readStop/readStart (net.Socket keeps `reading` in step with them).
  const handle = (stream as unknown as { _handle?: { reading: boolean; readStop?: () => number; readStart?: () => number } })._handle;
  let paused: NodeJS.Timeout | undefined;
  const resume = () => {
    paused = undefined;
    if (!handle || handle.reading || (stream as unknown as { destroyed: boolean }).destroyed) return;
    handle.reading = true;
    handle.readStart!();
  };
  const own = stateOf();
  if (own) own.wake = () => { if (paused) { clearTimeout(paused); resume(); } };
  let busyUntil = 0;
  stream.on('readable', () => {
    // A read of a socket buffer's worth: a burst, which comes in batches by itself; pausing would
    // only hold it back (the socket holds few messages: each write costs the kernel a buffer).
    // Read as it comes for a while, then look again.
    const bytes = (stream as unknown as { readableLength: number }).readableLength;
    const before = delivered;
    readAll();
    const busy = delivered - before >= BUSY_MESSAGES || bytes >= BUSY_BYTES;
    const g = stateOf();
    if (!g || g.readDelayMs <= 0) return;
    const now = Date.now();
    if (busy) busyUntil = now + BUSY_MS;
    if (now < busyUntil || paused || !handle?.readStop || !handle.reading || g.awaiting()) return;
    handle.readStop();
    handle.reading = false;
    paused = setTimeout(resume, g.readDelayMs);
  });
  function readAll(): void {
    while (true) {
      if (state === 0) {
        const h = stream.read(16);
        if (!h) break;
        header = h;
        endian = header.readUInt8(0);
        fieldsLength = endian === LE ? header.readUInt32LE(12) : header.readUInt32BE(12);
        fieldsLengthPadded = ((fieldsLength + 7) >> 3) << 3;
        bodyLength = endian === LE ? header.readUInt32LE(4) : header.readUInt32BE(4);
        state = 1;
      } else if (state === 1) {
        let fieldsBuf: Buffer;
        if (fieldsLengthPadded === 0) {
          fieldsBuf = Buffer.alloc(0);
          fds = undefined;
        } else {
          const readBuf = stream.read(fieldsLengthPadded, null);
          // usockets return an object with { data, fds }
          const b = readBuf ? readBuf.data ?? readBuf : readBuf;
          if (!b) break;
          fieldsBuf = b;
          fds = readBuf!.fds;
        }
        const known = endian === LE ? readHeaderFields(fieldsBuf, fieldsLength) : undefined;
        if (known) {
          message = known;
        } else {
          // Big-endian, or a field this reader does not know: dbus-next's reader.
          message = {};
          const fields = new DBusBuffer(fieldsBuf, 0, endian, fds, opts).readArray(headerSignature[0].child[0], fieldsLength);
          for (const f of fields) {
            const name = constants.headerTypeName[f[0]];
            if (name) message[name] = f[1][1][0];
          }
        }
        message.serial = endian === LE ? header.readUInt32LE(8) : header.readUInt32BE(8);
        message.type = header[1];
        message.flags = header[2];
        if (bodyLength === 0) { deliver(); continue; }
        const g = stateOf();
        refusal = g?.gate.check({
          type: message.type as number, serial: message.serial as number, sender: message.sender as string | undefined,
          destination: message.destination as string | undefined, path: message.path as string | undefined,
          interface: message.interface as string | undefined, member: message.member as string | undefined,
          signature: message.signature as string | undefined, bodyLength,
        });
        if (refusal || !message.signature) {
          // Delivered with no body: the handler sees an empty signature and asks refusalOf why.
          message.signature = '';
          toSkip = bodyLength;
          state = 3;
        } else {
          state = 2;
        }
      } else if (state === 2) {
        const readBuf = stream.read(bodyLength, null);
        const body = readBuf ? readBuf.data ?? readBuf : readBuf;
        if (!body) break;
        // The messages every node reads for every message it takes: read by protocol/wire.ts in one
        // pass and emitted as dbus-next would have (its reader parses the signature and walks the body twice).
        const g = stateOf();
        let fast: unknown[] | undefined;
        try {
          fast = g && endian === LE ? readHiveBody(body, message.signature as string, makeVariant) : undefined;
        } catch {
          fast = undefined; // dbus-next reads it, and says what is wrong with it
        }
        if (fast) {
          message.body = fast;
          state = 0;
          g!.connection.emit('message', new Message(message));
          continue;
        }
        // The body starts 8-aligned in the message, so alignment relative to it is the same.
        message.body = new DBusBuffer(body, 0, endian, readBuf!.fds ?? fds, opts).read(message.signature as string);
        deliver();
      } else {
        // Skipping: take whatever is buffered, give back what belongs to the next message.
        const readBuf = stream.read();
        const chunk = readBuf ? readBuf.data ?? readBuf : readBuf;
        if (!chunk) break;
        if (chunk.length > toSkip) {
          stream.unshift(chunk.subarray(toSkip));
          toSkip = 0;
        } else {
          toSkip -= chunk.length;
        }
        if (toSkip === 0) deliver();
      }
    }
  }
}

/** The header fields dbus-next would name, by code (D-Bus spec, "Message Format"), and their one type each. */
const FIELDS: [name: string, sig: string][] = [['', ''], ['path', 'o'], ['interface', 's'], ['member', 's'], ['errorName', 's'], ['replySerial', 'u'], ['destination', 's'], ['sender', 's'], ['signature', 'g'], ['unixFd', 'u']];

/**
 * A little-endian header's fields, in one pass (dbus-next parses a signature per field of every
 * message). undefined for a field code or type it does not know, or a field array that does not
 * hold together: dbus-next's reader then does it. The daemon has checked the wire format already.
 */
export function readHeaderFields(buf: Buffer, length: number): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  let pos = 0;
  while (pos < length) {
    pos = (pos + 7) & ~7;
    if (pos + 4 > buf.length) return undefined;
    const field = FIELDS[buf[pos]!];
    const sigLen = buf[pos + 1]!;
    if (!field || !field[0] || sigLen !== 1 || buf.toString('latin1', pos + 2, pos + 3) !== field[1]) return undefined;
    pos += 4;
    if (field[1] === 'u') {
      pos = (pos + 3) & ~3;
      if (pos + 4 > buf.length) return undefined;
      out[field[0]] = buf.readUInt32LE(pos);
      pos += 4;
    } else if (field[1] === 'g') {
      const n = buf[pos]!;
      if (pos + n + 2 > buf.length) return undefined;
      out[field[0]] = buf.toString('latin1', pos + 1, pos + 1 + n);
      pos += n + 2;
    } else {
      pos = (pos + 3) & ~3;
      if (pos + 4 > buf.length) return undefined;
      const n = buf.readUInt32LE(pos);
      if (pos + 4 + n + 1 > buf.length) return undefined;
      out[field[0]] = buf.toString('utf8', pos + 4, pos + 4 + n);
      pos += 4 + n + 1;
    }
  }
  return out;
}
