/**
 * TLS settings of XMPP networks: a CA to trust (ca_file) and tls_verify. @xmpp/client passes no
 * TLS options of ours to tls.connect (direct TLS: `{ host, port }`; STARTTLS: `{ socket, host: domain }`),
 * so connections to the host AND port registered here get them added. Everything else keeps what
 * its caller asked for: a caller that sets rejectUnauthorized or ca itself (an IRC network) is
 * never overridden, another port of the same host is not touched, and a network's entries go
 * when it stops.
 */
import tls from 'node:tls';

export interface XmppTls { ca?: Buffer; rejectUnauthorized: boolean }

/** `host:port` → the settings and who registered them. */
const settings = new Map<string, { owner: object; s: XmppTls }>();
let patched = false;

const keyOf = (host: string, port: number | undefined): string => `${host.toLowerCase()}:${port ?? ''}`;

/** Applies to TLS connections to `host` (the server's host, or the JID's domain for STARTTLS) on `port`. */
export function xmppTlsFor(owner: object, host: string, port: number, s: XmppTls): void {
  settings.set(keyOf(host, port), { owner, s });
  if (patched) return;
  patched = true;
  const original = tls.connect;
  (tls as { connect: typeof tls.connect }).connect = function connect(this: unknown, ...args: unknown[]) {
    const opts = args[0] as (tls.ConnectionOptions & { socket?: { remotePort?: number } }) | undefined;
    if (opts && typeof opts === 'object' && typeof opts.host === 'string' && opts.rejectUnauthorized === undefined && opts.ca === undefined) {
      // STARTTLS upgrades a socket: its port is the connected one.
      const e = settings.get(keyOf(opts.host, opts.port ?? opts.socket?.remotePort));
      if (e) args[0] = { ...opts, ...(e.s.ca ? { ca: e.s.ca } : {}), rejectUnauthorized: e.s.rejectUnauthorized };
    }
    return (original as (...a: unknown[]) => tls.TLSSocket).apply(this, args);
  } as typeof tls.connect;
}

/** Forgets what `owner` registered (its network stopped, or hive reload removed it). */
export function xmppTlsForget(owner: object): void {
  for (const [k, e] of settings) if (e.owner === owner) settings.delete(k);
}

/** The settings a connection to host:port would get (for tests). */
export function xmppTlsOf(host: string, port: number): XmppTls | undefined {
  return settings.get(keyOf(host, port))?.s;
}
