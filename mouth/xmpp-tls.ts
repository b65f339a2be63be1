/**
 * TLS settings of XMPP networks: a CA to trust (ca_file) and tls_verify. @xmpp/client passes no
 * TLS options of ours to tls.connect (direct TLS: `{ host, port }`; STARTTLS: `{ socket, host: domain }`),
 * so connections to the hosts registered here get them added; everything else keeps Node's defaults.
 */
import tls from 'node:tls';

const settings = new Map<string, { ca?: Buffer; rejectUnauthorized: boolean }>();
let patched = false;

/** Applies to TLS connections whose host (the server's host, or the JID's domain for STARTTLS) is `host`. */
export function xmppTlsFor(host: string, s: { ca?: Buffer; rejectUnauthorized: boolean }): void {
  settings.set(host.toLowerCase(), s);
  if (patched) return;
  patched = true;
  const original = tls.connect;
  (tls as { connect: typeof tls.connect }).connect = function connect(this: unknown, ...args: unknown[]) {
    const opts = args[0] as tls.ConnectionOptions | undefined;
    const s = opts && typeof opts === 'object' && typeof opts.host === 'string' ? settings.get(opts.host.toLowerCase()) : undefined;
    if (opts && s) args[0] = { ...opts, ...(s.ca && !opts.ca ? { ca: s.ca } : {}), rejectUnauthorized: s.rejectUnauthorized };
    return (original as (...a: unknown[]) => tls.TLSSocket).apply(this, args);
  } as typeof tls.connect;
}
