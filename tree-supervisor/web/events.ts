/**
 * The pages connected for live updates (server-sent events): at most `maxClients` at once (one
 * more is refused, counted), and a page that does not read is not waited for: past `maxPending`
 * events or `maxPendingBytes` not yet written to it, it is closed and counted (its EventSource reconnects and gets the
 * whole tree again), so a stuck browser never grows this process.
 */
import type { SSEStreamingApi } from 'hono/streaming';

interface Client { stream: SSEStreamingApi; pending: number; pendingBytes: number; closed: boolean; gone: () => void; cut?: () => void }

export class EventHub {
  private readonly clients = new Set<Client>();
  /** Pages closed for not reading. */
  slowClosed = 0;

  constructor(private readonly o: { maxClients: number; maxPending: number; maxPendingBytes?: number; onSlow?: () => void }) {}

  get size(): number { return this.clients.size; }

  /**
   * Takes a page's stream, or false when `maxClients` are connected; resolves `done` when it goes.
   * `cut` ends its connection at once (a page that does not read would hold a graceful end forever).
   */
  add(stream: SSEStreamingApi, cut?: () => void): { done: Promise<void>; send: (event: string, data: unknown) => void } | false {
    if (this.clients.size >= this.o.maxClients) return false;
    let gone!: () => void;
    const done = new Promise<void>((resolve) => { gone = resolve; });
    const client: Client = { stream, pending: 0, pendingBytes: 0, closed: false, gone, cut };
    this.clients.add(client);
    stream.onAbort(() => this.drop(client));
    return { done, send: (event, data) => { const text = JSON.stringify(data); this.write(client, event, text, Buffer.byteLength(text)); } };
  }

  broadcast(event: string, data: unknown): void {
    if (this.clients.size === 0) return;
    const text = JSON.stringify(data);
    const bytes = Buffer.byteLength(text);
    for (const c of this.clients) this.write(c, event, text, bytes);
  }

  closeAll(): void {
    for (const c of [...this.clients]) this.drop(c);
  }

  private write(c: Client, event: string, data: string, bytes: number): void {
    if (c.closed) return;
    // A tree of a few hundred nodes is large: events alone would let one page hold 256 of them.
    if (c.pending >= this.o.maxPending || c.pendingBytes + bytes > (this.o.maxPendingBytes ?? 4 * 1024 * 1024)) {
      this.slowClosed++;
      this.o.onSlow?.();
      this.drop(c, true);
      return;
    }
    c.pending++;
    c.pendingBytes += bytes;
    c.stream.writeSSE({ event, data }).then(() => { c.pending--; c.pendingBytes -= bytes; }, () => this.drop(c));
  }

  private drop(c: Client, cut = false): void {
    if (c.closed) return;
    c.closed = true;
    this.clients.delete(c);
    if (cut) {
      c.cut?.();
      c.stream.abort();
    } else {
      void c.stream.close().catch(() => undefined);
    }
    c.gone();
  }
}
