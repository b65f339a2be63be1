/**
 * Our own D-Bus marshaller for the one message shape on the hot path: a method call whose body is
 * a HiveMessage `(aaya{sv})`, or a Message signal `s(aaya{sv})` (its route, then the message). dbus-next marshals byte arrays one element at a time
 * (~78 µs for a typical HiveMessage); this writes them as Buffers, in the same D-Bus wire format
 * (little-endian, spec "Marshaling (Wire Format)"). Tests compare its bytes with dbus-next's.
 *
 * Only the metadata value types listed in SIMPLE are written here; a message carrying any other
 * type returns undefined and the caller falls back to dbus-next.
 */
import type { WireMessage } from './codec.js';
import { HIVE_MESSAGE_SIGNATURE, MESSAGE_SIGNAL_SIGNATURE } from './names.js';

const SIMPLE = new Set(['s', 'o', 'g', 'b', 'y', 'n', 'q', 'i', 'u', 'x', 't', 'd', 'as', 'ay', 'a{ss}']);

class Writer {
  buf: Buffer;
  pos = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  align(n: number): void {
    const pad = (n - (this.pos % n)) % n;
    if (pad === 0) return;
    this.ensure(pad);
    this.buf.fill(0, this.pos, this.pos + pad);
    this.pos += pad;
  }

  u8(v: number): void { this.ensure(1); this.buf[this.pos++] = v; }
  u32(v: number): void { this.align(4); this.ensure(4); this.buf.writeUInt32LE(v >>> 0, this.pos); this.pos += 4; }
  i32(v: number): void { this.align(4); this.ensure(4); this.buf.writeInt32LE(v | 0, this.pos); this.pos += 4; }
  u16(v: number): void { this.align(2); this.ensure(2); this.buf.writeUInt16LE(v & 0xffff, this.pos); this.pos += 2; }
  i16(v: number): void { this.align(2); this.ensure(2); this.buf.writeInt16LE(v, this.pos); this.pos += 2; }
  u64(v: bigint | number): void { this.align(8); this.ensure(8); this.buf.writeBigUInt64LE(BigInt(v), this.pos); this.pos += 8; }
  i64(v: bigint | number): void { this.align(8); this.ensure(8); this.buf.writeBigInt64LE(BigInt(v), this.pos); this.pos += 8; }
  f64(v: number): void { this.align(8); this.ensure(8); this.buf.writeDoubleLE(v, this.pos); this.pos += 8; }

  string(s: string): void {
    const n = Buffer.byteLength(s);
    this.u32(n);
    this.ensure(n + 1);
    this.buf.write(s, this.pos, n, 'utf8');
    this.pos += n;
    this.buf[this.pos++] = 0;
  }

  signature(s: string): void {
    this.ensure(s.length + 2);
    this.buf[this.pos++] = s.length;
    this.buf.write(s, this.pos, 'latin1');
    this.pos += s.length;
    this.buf[this.pos++] = 0;
  }

  bytes(b: Buffer): void {
    this.u32(b.length);
    this.ensure(b.length);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
  }

  /** An array: length placeholder, padding to the element alignment, elements, length filled in. */
  array(elementAlign: number, write: () => void): void {
    this.u32(0);
    const lenAt = this.pos - 4;
    this.align(elementAlign);
    const start = this.pos;
    write();
    this.buf.writeUInt32LE(this.pos - start, lenAt);
  }

  value(sig: string, v: unknown): void {
    switch (sig) {
      case 's': case 'o': this.string(v as string); break;
      case 'g': this.signature(v as string); break;
      case 'b': this.u32(v ? 1 : 0); break;
      case 'y': this.u8(v as number); break;
      case 'n': this.i16(v as number); break;
      case 'q': this.u16(v as number); break;
      case 'i': this.i32(v as number); break;
      case 'u': this.u32(v as number); break;
      case 'x': this.i64(v as bigint); break;
      case 't': this.u64(v as bigint); break;
      case 'd': this.f64(v as number); break;
      case 'ay': this.bytes(v as Buffer); break;
      case 'as': this.array(4, () => { for (const s of v as string[]) this.string(s); }); break;
      case 'a{ss}': this.array(8, () => {
        for (const [k, s] of Object.entries(v as Record<string, string>)) { this.align(8); this.string(k); this.string(s); }
      }); break;
      default: throw new Error(`unsupported signature ${sig}`);
    }
  }
}

/** True when every metadata value of the message has a type this module writes. */
export function canMarshal(wire: WireMessage): boolean {
  const meta = wire[1];
  for (const k in meta) if (!SIMPLE.has(meta[k]!.signature)) return false;
  return true;
}

function writeBody(w: Writer, wire: WireMessage): void {
  // (aaya{sv}): a struct (8-aligned; the body starts 8-aligned) of aay and a{sv}.
  w.array(4, () => { for (const l of wire[0]) w.bytes(l); });
  w.array(8, () => {
    const meta = wire[1];
    for (const k in meta) {
      const v = meta[k]!;
      w.align(8);
      w.string(k);
      w.signature(v.signature);
      w.value(v.signature, v.value);
    }
  });
}

/** The marshalled body of a `(aaya{sv})` message (for tests and callers that need only the body). */
export function marshalBody(wire: WireMessage): Buffer {
  const w = new Writer(512);
  writeBody(w, wire);
  return w.buf.subarray(0, w.pos);
}

export interface Header {
  type: 1 | 4; // METHOD_CALL | SIGNAL
  serial: number;
  path: string;
  interface: string;
  member: string;
  destination?: string;
  /** A Message signal's route key (docs/protocol.md#routes): the body is then `s(aaya{sv})`. */
  route?: string;
}

const FIELD = { path: 1, interface: 2, member: 3, destination: 6, signature: 8 } as const;

/** A whole D-Bus message (header and `(aaya{sv})` body) ready to write to the bus socket. */
export function marshalMessage(h: Header, wire: WireMessage): Buffer {
  const body = new Writer(1024);
  if (h.route !== undefined) {
    body.string(h.route);
    body.align(8);
  }
  writeBody(body, wire);
  const w = new Writer(160 + body.pos);
  w.u8(0x6c); // 'l': little-endian
  w.u8(h.type);
  w.u8(0);
  w.u8(1);
  w.u32(body.pos);
  w.u32(h.serial);
  w.array(8, () => {
    const field = (code: number, sig: string, value: string) => {
      w.align(8);
      w.u8(code);
      w.signature(sig);
      w.value(sig, value);
    };
    field(FIELD.path, 'o', h.path);
    field(FIELD.interface, 's', h.interface);
    field(FIELD.member, 's', h.member);
    if (h.destination) field(FIELD.destination, 's', h.destination);
    field(FIELD.signature, 'g', h.route !== undefined ? MESSAGE_SIGNAL_SIGNATURE : HIVE_MESSAGE_SIGNATURE);
  });
  w.align(8);
  const out = Buffer.allocUnsafe(w.pos + body.pos);
  w.buf.copy(out, 0, 0, w.pos);
  body.buf.copy(out, w.pos, 0, body.pos);
  return out;
}

/**
 * The reading side, for the same shapes: a `(aaya{sv})` call body or an `s(aaya{sv})` Message
 * signal body, little-endian, as dbus-next's reader would give it (lines as Buffers, metadata
 * values as Variants, 64-bit integers as BigInt) but without parsing signatures per message and
 * walking the body twice: every node reads one of these for every message it takes. undefined
 * for another signature, or a metadata value of a type this module does not read (then dbus-next
 * reads it); a body that does not hold together throws. The bus daemon checks every message's
 * wire format before it forwards it, so a throw here means a bug, never a hostile peer.
 */
export function readHiveBody(body: Buffer, signature: string, makeVariant: (signature: string, value: unknown) => unknown): unknown[] | undefined {
  const withRoute = signature === MESSAGE_SIGNAL_SIGNATURE;
  if (!withRoute && signature !== HIVE_MESSAGE_SIGNATURE) return undefined;
  const r = new Reader(body);
  const route = withRoute ? r.string() : undefined;
  r.align(8);
  const lines: Buffer[] = [];
  const linesEnd = r.arrayEnd(4);
  while (r.pos < linesEnd) lines.push(r.bytes());
  const meta: Record<string, unknown> = {};
  const metaEnd = r.arrayEnd(8);
  while (r.pos < metaEnd) {
    r.align(8);
    const key = r.string();
    const sig = r.signature();
    if (!SIMPLE.has(sig)) return undefined;
    const v = makeVariant(sig, r.value(sig));
    // A key named __proto__ stays a key (checkMeta then refuses it), never the object's prototype.
    if (key === '__proto__') Object.defineProperty(meta, key, { value: v, enumerable: true, writable: true, configurable: true });
    else meta[key] = v;
  }
  if (r.pos !== body.length) throw new Error(`HiveMessage body: ${body.length - r.pos} bytes left over`);
  const wire = [lines, meta];
  return withRoute ? [route, wire] : [wire];
}

class Reader {
  pos = 0;
  constructor(private readonly buf: Buffer) {}

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new Error('HiveMessage body: truncated');
  }

  align(n: number): void { this.pos += (n - (this.pos % n)) % n; }
  u32(): number { this.align(4); this.need(4); const v = this.buf.readUInt32LE(this.pos); this.pos += 4; return v; }

  /** An array's length, then padding to its elements' alignment: where the array ends. */
  arrayEnd(elementAlign: number): number {
    const n = this.u32();
    this.align(elementAlign);
    this.need(n);
    return this.pos + n;
  }

  string(): string {
    const n = this.u32();
    this.need(n + 1);
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n + 1;
    return s;
  }

  signature(): string {
    this.need(1);
    const n = this.buf[this.pos]!;
    this.need(n + 2);
    const s = this.buf.toString('latin1', this.pos + 1, this.pos + 1 + n);
    this.pos += n + 2;
    return s;
  }

  bytes(): Buffer {
    const n = this.u32();
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  value(sig: string): unknown {
    const b = this.buf;
    switch (sig) {
      case 's': case 'o': return this.string();
      case 'g': return this.signature();
      case 'b': return this.u32() !== 0;
      case 'y': { this.need(1); return b[this.pos++]!; }
      case 'n': { this.align(2); this.need(2); const v = b.readInt16LE(this.pos); this.pos += 2; return v; }
      case 'q': { this.align(2); this.need(2); const v = b.readUInt16LE(this.pos); this.pos += 2; return v; }
      case 'i': { this.align(4); this.need(4); const v = b.readInt32LE(this.pos); this.pos += 4; return v; }
      case 'u': return this.u32();
      case 'x': { this.align(8); this.need(8); const v = b.readBigInt64LE(this.pos); this.pos += 8; return v; }
      case 't': { this.align(8); this.need(8); const v = b.readBigUInt64LE(this.pos); this.pos += 8; return v; }
      case 'd': { this.align(8); this.need(8); const v = b.readDoubleLE(this.pos); this.pos += 8; return v; }
      case 'ay': return this.bytes();
      case 'as': { const out: string[] = []; const end = this.arrayEnd(4); while (this.pos < end) out.push(this.string()); return out; }
      case 'a{ss}': {
        const out: Record<string, string> = {};
        const end = this.arrayEnd(8);
        while (this.pos < end) { this.align(8); const k = this.string(); out[k] = this.string(); }
        return out;
      }
      default: throw new Error(`unsupported signature ${sig}`);
    }
  }
}
