/**
 * The benchmark's own IRC client: a raw socket with sub-millisecond timestamps, so latency is
 * measured on the wire and not through any IRC library.
 */
import net from 'node:net';

export interface Seen { at: number; line: string }

export class RawIrc {
  private sock!: net.Socket;
  private buf = '';
  readonly lines: Seen[] = [];
  private waiters: { pred: (l: string) => boolean; resolve: (s: Seen) => void }[] = [];

  static async connect(host: string, port: number, nick: string): Promise<RawIrc> {
    const c = new RawIrc();
    await new Promise<void>((resolve, reject) => {
      c.sock = net.connect({ host, port }, resolve);
      c.sock.once('error', reject);
    });
    c.sock.setNoDelay(true);
    c.sock.on('data', (d) => c.onData(d));
    c.send(`NICK ${nick}`, `USER ${nick} 0 * :bench`);
    await c.waitFor((l) => / 001 /.test(l), 10_000);
    return c;
  }

  private onData(d: Buffer): void {
    const at = performance.now();
    this.buf += d.toString('utf8');
    let nl;
    while ((nl = this.buf.indexOf('\n')) !== -1) {
      const line = this.buf.slice(0, nl).replace(/\r$/, '');
      this.buf = this.buf.slice(nl + 1);
      if (line.startsWith('PING ')) { this.sock.write(`PONG ${line.slice(5)}\r\n`); continue; }
      const seen = { at, line };
      this.lines.push(seen);
      for (let i = 0; i < this.waiters.length; i++) {
        const w = this.waiters[i]!;
        if (w.pred(line)) { this.waiters.splice(i, 1); i--; w.resolve(seen); }
      }
    }
    if (this.lines.length > 200_000) this.lines.splice(0, 100_000);
  }

  send(...lines: string[]): void {
    this.sock.write(lines.map((l) => l + '\r\n').join(''));
  }

  waitFor(pred: (l: string) => boolean, timeoutMs: number): Promise<Seen> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`no matching line within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (s: Seen) => { clearTimeout(t); resolve(s); };
      this.waiters.push({ pred, resolve: done });
    });
  }

  close(): void {
    this.sock.destroy();
  }
}
