// Shared bits of the mouth tests: network configs, waiting for the bot on the raw client's side,
// and a TCP gate in front of a server (to hold the bot's reconnect back until the test is ready).
import net from 'node:net';
import type { Ircd } from '../helpers/ircd.js';
import type { IrcLine, IrcTestClient } from '../helpers/irc-client.js';
import type { TestHive } from '../helpers/hive.js';
import { fixture } from '../helpers/paths.js';

export const exec = (name: string) => ['node', fixture(name)];

/** An `irc` network entry for the hive config pointing at `ircd`; `extra` overrides. */
export function ircNetwork(ircd: Pick<Ircd, 'host' | 'port'>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'irc',
    host: ircd.host,
    port: ircd.port,
    nick: 'hivebot',
    channels: ['#one'],
    flood: { burst: 100, rate: 100 },
    reconnect: { min_delay: 100, max_delay: 1000 },
    ...extra,
  };
}

const same = (a: string | undefined, b: string) => a !== undefined && a.toLowerCase() === b.toLowerCase();

/** Waits until the raw client sees `nick` join `channel` (the client must already be in it). */
export function botJoined(client: IrcTestClient, nick: string, channel: string, opts: { since?: number; timeout?: number } = {}): Promise<IrcLine> {
  return client.waitFor((l) => l.command === 'JOIN' && same(l.nick, nick) && same(l.params[0], channel), { since: opts.since ?? 0, timeout: opts.timeout ?? 15_000 });
}

/** PRIVMSGs from `nick` to `target` the client received at index >= since. */
export function privmsgsFrom(client: IrcTestClient, nick: string, target: string, since = 0): IrcLine[] {
  return client.lines.slice(since).filter((l) => l.command === 'PRIVMSG' && same(l.nick, nick) && same(l.params[0], target));
}

/** Waits for a PRIVMSG from `nick` to `target` whose text is `text` (or matches it). */
export function expectPrivmsg(client: IrcTestClient, nick: string, target: string, text: string | RegExp, opts: { since?: number; timeout?: number } = {}): Promise<IrcLine> {
  const ok = (t: string | undefined) => t !== undefined && (typeof text === 'string' ? t === text : text.test(t));
  return client.waitFor((l) => l.command === 'PRIVMSG' && same(l.nick, nick) && same(l.params[0], target) && ok(l.params[1]), { since: opts.since, timeout: opts.timeout ?? 10_000 });
}

/** Writes raw bytes (plus CRLF) on the client's socket: for lines that are not valid UTF-8. */
export function sendBytes(client: IrcTestClient, bytes: Buffer): void {
  (client as unknown as { socket: net.Socket }).socket.write(Buffer.concat([bytes, Buffer.from('\r\n')]));
}

/** Log lines of one node. */
export function logsOf(hive: TestHive, node: string): Record<string, unknown>[] {
  return hive.logs.filter((l) => l.node === node);
}

export function waitForNodeLog(hive: TestHive, node: string, msg: string, pred: (l: Record<string, unknown>) => boolean = () => true, timeout = 10_000): Promise<Record<string, unknown>> {
  return hive.waitForLog((l) => l.node === node && l.msg === msg && pred(l), timeout);
}

/**
 * A TCP forwarder to 127.0.0.1:`target`. While closed it accepts and at once drops connections
 * (as a refused connect looks to the bot: it backs off and retries). Transparent while open.
 */
export interface Gate {
  port: number;
  open: boolean;
  close(): Promise<void>;
}

export async function startGate(target: number): Promise<Gate> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((down) => {
    sockets.add(down);
    down.on('close', () => sockets.delete(down));
    down.on('error', () => down.destroy());
    if (!gate.open) { down.destroy(); return; }
    const up = net.connect({ host: '127.0.0.1', port: target });
    sockets.add(up);
    up.on('close', () => { sockets.delete(up); down.destroy(); });
    up.on('error', () => up.destroy());
    down.on('close', () => up.destroy());
    down.pipe(up);
    up.pipe(down);
  });
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, '127.0.0.1', () => resolve()); });
  const gate: Gate = {
    port: (server.address() as net.AddressInfo).port,
    open: true,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
  return gate;
}

