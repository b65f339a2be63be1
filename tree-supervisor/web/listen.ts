/**
 * Where `hive web` listens: `HOST:PORT` on a loopback address (port 0 or none: a free one), or
 * `unix:PATH`. Never another address: the page controls the hive, and a listener off the machine
 * would put that one token away from the network; use a unix socket and SSH forwarding instead.
 */
export type ListenSpec = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

export class ListenError extends Error {}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export function parseListen(spec: string | undefined): ListenSpec {
  if (spec === undefined || spec === '') return { kind: 'tcp', host: '127.0.0.1', port: 0 };
  if (spec.length > 200) throw new ListenError('--listen is longer than 200 characters');
  if (spec.startsWith('unix:')) {
    const path = spec.slice('unix:'.length);
    if (!path.startsWith('/')) throw new ListenError(`--listen unix:PATH needs an absolute path; got '${path}'`);
    // A sockaddr_un path holds 107 bytes.
    if (Buffer.byteLength(path) > 107) throw new ListenError(`--listen unix:PATH: the path is longer than 107 bytes`);
    return { kind: 'unix', path };
  }
  // PORT alone is 127.0.0.1:PORT.
  const m = /^\d{1,5}$/.test(spec) ? [spec, '127.0.0.1', spec] : /^(\[::1\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(spec);
  if (!m) throw new ListenError(`--listen is HOST:PORT or unix:PATH; got '${spec}'`);
  const host = m[1]!;
  const port = m[2] === undefined ? 0 : Number(m[2]);
  if (!LOOPBACK.has(host)) throw new ListenError(`--listen ${host}: only a loopback address (127.0.0.1, [::1], localhost); for another machine use unix:PATH and SSH forwarding (docs/web.md)`);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ListenError(`--listen port ${m[2]} is not 0-65535`);
  return { kind: 'tcp', host: host === '[::1]' ? '::1' : host === 'localhost' ? '127.0.0.1' : host, port };
}

/** Whether a Host header names this machine's loopback (any port: an SSH forward picks its own). */
export function isLoopbackHost(hostHeader: string | undefined): boolean {
  if (!hostHeader || hostHeader.length > 100) return false;
  const m = /^(\[::1\]|localhost|127\.0\.0\.1)(?::\d{1,5})?$/i.exec(hostHeader);
  return m !== null;
}
