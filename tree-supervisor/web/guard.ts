/**
 * Who may ask the web view anything, decided from the request's headers before it costs a bus
 * call. In order: the Host must be this machine's loopback (a DNS-rebinding page sends its own
 * name); only GET and POST; no request body (nothing here reads one); then, except for the page's
 * empty shell (`open`), the token: from `Authorization: Bearer`, or `?token=` on a GET (scripts,
 * Prometheus). A POST takes it from the header only (which another site's page cannot set without
 * a CORS preflight we never grant), and an Origin it sends must be this very host.
 * No cookie: cookies ignore the port, so any other server on 127.0.0.1 would receive it.
 * Pure: the server counts and logs what this refuses.
 */
import { isLoopbackHost } from './listen.js';
import { tokenMatches } from './token.js';

export type Refusal = { status: 400 | 401 | 403 | 405 | 413; reason: RefusalReason; text: string };
export type RefusalReason = 'bad_host' | 'bad_method' | 'too_large' | 'no_token' | 'bad_token' | 'bad_origin';

export interface RequestFacts {
  method: string;
  host: string | undefined;
  origin: string | undefined;
  authorization: string | undefined;
  queryToken: string | undefined;
  contentLength: string | undefined;
  transferEncoding: string | undefined;
}

export function checkRequest(r: RequestFacts, token: string, o: { open?: boolean } = {}): Refusal | { via: 'bearer' | 'query' | 'open' } {
  if (!isLoopbackHost(r.host)) return { status: 403, reason: 'bad_host', text: 'the Host header must name this machine (127.0.0.1, localhost or [::1])' };
  if (r.method !== 'GET' && r.method !== 'POST') return { status: 405, reason: 'bad_method', text: 'only GET and POST' };
  if ((r.contentLength !== undefined && r.contentLength !== '0') || r.transferEncoding !== undefined) return { status: 413, reason: 'too_large', text: 'no request takes a body' };
  if (o.open) return { via: 'open' };
  const bearer = /^Bearer ([^\s]{1,256})$/i.exec(r.authorization ?? '')?.[1];
  const query = r.method === 'GET' ? r.queryToken : undefined;
  let via: 'bearer' | 'query' | undefined;
  // The header says who is asking: a wrong one is not rescued by a right ?token=.
  if (bearer !== undefined || r.authorization !== undefined) via = tokenMatches(bearer, token) ? 'bearer' : undefined;
  else if (query !== undefined && tokenMatches(query, token)) via = 'query';
  if (!via) {
    return r.authorization !== undefined || query !== undefined
      ? { status: 401, reason: 'bad_token', text: 'wrong token: open the address `hive web` printed' }
      : { status: 401, reason: 'no_token', text: r.method === 'POST' ? 'a POST carries the token in Authorization: Bearer' : 'no token: open the address `hive web` printed (it ends in #token=…)' };
  }
  if (r.method === 'POST' && r.origin !== undefined && !sameOrigin(r.origin, r.host!)) {
    return { status: 403, reason: 'bad_origin', text: `a POST must come from this page (Origin ${JSON.stringify(r.origin)} is not http://${r.host})` };
  }
  return { via };
}

function sameOrigin(origin: string, host: string): boolean {
  return origin.toLowerCase() === `http://${host.toLowerCase()}`;
}
