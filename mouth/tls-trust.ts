/**
 * TLS settings of one network's connections: a CA to trust (a self-signed or private server
 * certificate) and, where the client library cannot be told, whether to verify. Neither
 * irc-framework 4.14 nor @xmpp/client 0.14 passes such options to tls.connect, so connections to
 * the host AND port registered here get them added. A caller's own `ca` or `rejectUnauthorized` is
 * never overridden, another port of the same host is not touched, and an owner's entries go when
 * its network stops. Everything else keeps Node's default trust store and verification.
 */
import tls from 'node:tls';

export interface TlsTrust { ca?: Buffer; rejectUnauthorized?: boolean }

/** `host:port` → the settings and who registered them. */
const settings = new Map<string, { owner: object; s: TlsTrust }>();
let patched = false;

const keyOf = (host: string, port: number | undefined): string => `${host.toLowerCase()}:${port ?? ''}`;

/** Applies `s` to TLS connections to `host` on `port` (for STARTTLS, the port of the socket upgraded). */
export function trustFor(owner: object, host: string, port: number, s: TlsTrust): void {
  settings.set(keyOf(host, port), { owner, s });
  if (patched) return;
  patched = true;
  const original = tls.connect;
  (tls as { connect: typeof tls.connect }).connect = function connect(this: unknown, ...args: unknown[]) {
    const opts = args[0] as (tls.ConnectionOptions & { socket?: { remotePort?: number } }) | undefined;
    if (opts && typeof opts === 'object' && typeof opts.host === 'string') {
      const e = settings.get(keyOf(opts.host, opts.port ?? opts.socket?.remotePort))?.s;
      if (e) {
        args[0] = {
          ...opts,
          ...(opts.ca === undefined && e.ca ? { ca: e.ca } : {}),
          ...(opts.rejectUnauthorized === undefined && e.rejectUnauthorized !== undefined ? { rejectUnauthorized: e.rejectUnauthorized } : {}),
        };
      }
    }
    return (original as (...a: unknown[]) => tls.TLSSocket).apply(this, args);
  } as typeof tls.connect;
}

/** Forgets what `owner` registered (its network stopped, or hive reload removed it). */
export function forgetTrust(owner: object): void {
  for (const [k, e] of settings) if (e.owner === owner) settings.delete(k);
}
