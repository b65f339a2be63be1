/**
 * The socket reader of an IRC connection: irc-framework's own TCP/TLS transport (connecting, TLS,
 * SOCKS, writing) with its reading replaced by one bounded line splitter.
 *
 * Contract: every complete line (raw bytes, without CR/LF, never empty) goes to `hooks.line`, once,
 * in order; whatever that throws (irc-framework's parser and handlers run synchronously inside it,
 * and so do the mouth's own client.on(...) handlers) goes to `hooks.failed` with the line, and the
 * connection goes on. A line longer than `maxLineBytes` (with or without its line end) is never
 * buffered whole: `hooks.overflow` is told, the socket is destroyed and nothing more is read from it.
 * Cost is linear in the bytes received: each byte is scanned once and copied at most twice.
 */
import NetTransport from 'irc-framework/src/transports/net.js';

export interface TransportHooks {
  line(bytes: Buffer, deliver: (text: string) => void): void;
  failed(bytes: Buffer, err: unknown): void;
  /** A line got longer than the limit; the socket is being destroyed. `bytes`: what was held of it. */
  overflow(bytes: number): void;
}

/** Splits a byte stream into lines on LF (a CR before it is dropped), holding at most `max` bytes of an unfinished line. */
export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;

  constructor(private readonly max: number) {}

  /** How many bytes of an unfinished line are held. */
  get held(): number { return this.size; }

  /**
   * Calls `each` for every complete line in `chunk`. Returns false (and holds nothing more) once
   * a line is longer than `max`: the stream is then not line-shaped and must be dropped.
   */
  push(chunk: Buffer, each: (line: Buffer) => void): boolean {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl === -1) break;
      let line = this.size === 0 ? chunk.subarray(start, nl) : Buffer.concat([...this.parts, chunk.subarray(start, nl)]);
      this.parts = [];
      this.size = 0;
      start = nl + 1;
      if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
      if (line.length > this.max) {
        this.size = line.length;
        return false;
      }
      if (line.length > 0) each(line);
    }
    const rest = chunk.length - start;
    if (rest === 0) return true;
    // One more byte than max may be held: the CR of a line of exactly max bytes.
    if (this.size + rest > this.max + 1) {
      this.size += rest;
      return false;
    }
    // A copy: a slice would keep the socket's whole read buffer alive for a few bytes.
    this.parts.push(Buffer.from(chunk.subarray(start)));
    this.size += rest;
    return true;
  }
}

export type BoundedTransport = NetTransport & { stopReading(): void };

/** A transport class for irc-framework's `transport` option, reading through `hooks`. */
export function boundedTransport(hooks: TransportHooks, maxLineBytes: number): new (options: Record<string, unknown>) => BoundedTransport {
  return class BoundedTransport extends NetTransport {
    private splitter = new LineSplitter(maxLineBytes);
    private dead = false;

    override connect(): void {
      this.splitter = new LineSplitter(maxLineBytes);
      this.dead = false;
      super.connect();
    }

    override onSocketData(data: Buffer): void {
      if (this.dead) return;
      const ok = this.splitter.push(data, (bytes) => {
        if (this.dead) return;
        try {
          hooks.line(bytes, (text) => this.emit('line', text));
        } catch (err) {
          hooks.failed(bytes, err);
        }
      });
      if (!ok && !this.dead) {
        this.dead = true;
        hooks.overflow(this.splitter.held);
        this.socket?.destroy();
      }
    }

    /** Stops reading (the caller is dropping the connection): lines already received are not processed. */
    stopReading(): void {
      this.dead = true;
    }
  };
}
