/**
 * Trusting a given CA (a self-signed or private server certificate) for one network.
 * irc-framework 4.14 does not pass a `ca` option to tls.connect, so connections to the hosts
 * registered here get it added; everything else keeps Node's default trust store and verification.
 */
import tls from 'node:tls';

const trusted = new Map<string, Buffer>();
let patched = false;

export function trustCa(host: string, port: number, ca: Buffer): void {
  trusted.set(`${host}:${port}`, ca);
  if (patched) return;
  patched = true;
  const original = tls.connect;
  (tls as { connect: typeof tls.connect }).connect = function connect(this: unknown, ...args: unknown[]) {
    const opts = args[0] as tls.ConnectionOptions | undefined;
    if (opts && typeof opts === 'object' && !opts.ca) {
      const ca = trusted.get(`${opts.host}:${opts.port}`);
      if (ca) args[0] = { ...opts, ca };
    }
    return (original as (...a: unknown[]) => tls.TLSSocket).apply(this, args);
  } as typeof tls.connect;
}
