/**
 * A hostile IRC server for tests: a loopback TCP listener that registers a client just enough
 * (CAP LS, 001, 005, 376, JOIN echoes) and then plays whatever the test writes — malformed lines,
 * raw bytes without CRLF, storms. Real servers never send such input; that is the point of it.
 * Everything the client sent is kept, per connection, with its receive time.
 */
import net from 'node:net';
import { waitFor } from './wait.js';

export interface FakeConnection {
  socket: net.Socket;
  /** Lines the client sent (without CRLF), in order. */
  lines: string[];
  /** The nick the client registered with (last NICK). */
  nick: string;
  registered: boolean;
  closed: boolean;
}

export interface FakeIrcdOptions {
  /** Register clients automatically (default true): 001, 005, 376 after NICK + USER (and CAP END, once a client sent CAP LS, as real servers do). */
  autoRegister?: boolean;
  /** Echo the client's JOINs back (default true), so the bot believes it is in the channel. */
  echoJoins?: boolean;
  /** Answer the client's PINGs (default true). */
  answerPings?: boolean;
  /** CAPs offered in CAP LS (default none). */
  caps?: string[];
  /** Called once a connection is registered. */
  onRegistered?: (c: FakeConnection) => void;
}

export interface FakeIrcd {
  host: string;
  port: number;
  connections: FakeConnection[];
  /** The newest connection. */
  readonly current: FakeConnection | undefined;
  /** Writes a line (string or bytes) plus CRLF to the newest connection. */
  send(line: string | Buffer): void;
  /** Writes bytes as they are (no CRLF added) to the newest connection. */
  write(bytes: Buffer): Promise<void>;
  /** Waits for a registered connection (after index `since` in `connections`). */
  waitRegistered(opts?: { since?: number; timeout?: number }): Promise<FakeConnection>;
  /** Waits for a line from the client on the newest connection that matches. */
  waitLine(match: RegExp, opts?: { since?: number; timeout?: number }): Promise<string>;
  /** Closes every client connection (the server stays up). */
  dropClients(): void;
  close(): Promise<void>;
}

const SERVER = 'fake.test';

export async function startFakeIrcd(opts: FakeIrcdOptions = {}): Promise<FakeIrcd> {
  const { autoRegister = true, echoJoins = true, answerPings = true, caps = [] } = opts;
  const connections: FakeConnection[] = [];
  const server = net.createServer((socket) => {
    const c: FakeConnection = { socket, lines: [], nick: '*', registered: false, closed: false };
    connections.push(c);
    let user = false;
    let capping = false;
    let buf = '';
    const out = (l: string) => { if (!socket.destroyed) socket.write(`${l}\r\n`); };
    socket.on('error', () => undefined);
    socket.on('close', () => { c.closed = true; });
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      let nl;
      while ((nl = buf.indexOf('\n')) !== -1) {
        const line = buf.slice(0, nl).replace(/\r$/, '');
        buf = buf.slice(nl + 1);
        c.lines.push(line);
        const [cmd = '', ...params] = line.split(' ');
        switch (cmd.toUpperCase()) {
          case 'CAP':
            if (params[0] === 'LS') { capping = true; out(`:${SERVER} CAP * LS :${caps.join(' ')}`); }
            else if (params[0] === 'END') capping = false;
            else if (params[0] === 'REQ') out(`:${SERVER} CAP * ACK :${line.slice(line.indexOf(':') + 1)}`);
            break;
          case 'NICK': c.nick = params[0]!.replace(/^:/, ''); break;
          case 'USER': user = true; break;
          case 'PING': if (answerPings) out(`:${SERVER} PONG ${SERVER} ${params.join(' ')}`); break;
          case 'JOIN':
            if (echoJoins && c.registered) for (const ch of params[0]!.split(',')) out(`:${c.nick}!bot@fake.host JOIN ${ch}`);
            break;
          case 'QUIT': socket.end(); break;
          default: break;
        }
        if (autoRegister && !c.registered && user && c.nick !== '*' && !capping) {
          c.registered = true;
          out(`:${SERVER} 001 ${c.nick} :Welcome to the fake network ${c.nick}!bot@fake.host`);
          out(`:${SERVER} 005 ${c.nick} CASEMAPPING=rfc1459 CHANTYPES=# PREFIX=(ov)@+ NETWORK=Fake :are supported by this server`);
          out(`:${SERVER} 376 ${c.nick} :End of MOTD`);
          opts.onRegistered?.(c);
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const current = () => connections[connections.length - 1];
  const fake: FakeIrcd = {
    host: '127.0.0.1',
    port,
    connections,
    get current() { return current(); },
    send(line) {
      const c = current();
      if (!c || c.socket.destroyed) throw new Error('fake ircd: no open connection');
      c.socket.write(Buffer.concat([Buffer.isBuffer(line) ? line : Buffer.from(line), Buffer.from('\r\n')]));
    },
    write(bytes) {
      const c = current();
      if (!c || c.socket.destroyed) return Promise.reject(new Error('fake ircd: no open connection'));
      // Resolves once the bytes are taken (drain), or when the connection ends: a client that was
      // dropped, or that stopped reading, must not hang the writer.
      return new Promise((resolve) => {
        if (c.socket.write(bytes)) { resolve(); return; }
        const done = () => { c.socket.off('drain', done); c.socket.off('close', done); resolve(); };
        c.socket.once('drain', done);
        c.socket.once('close', done);
      });
    },
    waitRegistered({ since = 0, timeout = 15_000 } = {}) {
      return waitFor(() => connections.slice(since).find((c) => c.registered && !c.closed), { timeout, what: 'a registered connection to the fake ircd' });
    },
    waitLine(match, { since = 0, timeout = 10_000 } = {}) {
      return waitFor(() => current()?.lines.slice(since).find((l) => match.test(l)), { timeout, what: `a line ${String(match)} from the client` });
    },
    dropClients() { for (const c of connections) c.socket.destroy(); },
    async close() {
      for (const c of connections) c.socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return fake;
}
