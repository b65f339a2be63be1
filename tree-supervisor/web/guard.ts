/**
 * Who may ask the web view anything, decided from the request's headers before it costs a bus
 * call. In order: the Host must be this machine's loopback (a DNS-rebinding page sends its own
 * name); only GET and POST; no request body (nothing here reads one); the token, from
 * `Authorization: Bearer`, the page's cookie or `?token=`; and a POST either carries the token in
 * its Authorization header (which another site's page cannot set without a CORS preflight we never
 * grant) or comes with an Origin of this very host (a cross-site form or fetch sends its own).
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
  /** The page's cookie's value, when it sent one. */
  cookieToken: string | undefined;
  queryToken: string | undefined;
  contentLength: string | undefined;
  transferEncoding: string | undefined;
}

export function checkRequest(r: RequestFacts, token: string): Refusal | { via: 'bearer' | 'cookie' | 'query' } {
  if (!isLoopbackHost(r.host)) return { status: 403, reason: 'bad_host', text: 'the Host header must name this machine (127.0.0.1, localhost or [::1])' };
  if (r.method !== 'GET' && r.method !== 'POST') return { status: 405, reason: 'bad_method', text: 'only GET and POST' };
  if ((r.contentLength !== undefined && r.contentLength !== '0') || r.transferEncoding !== undefined) return { status: 413, reason: 'too_large', text: 'no request takes a body' };
  const bearer = /^Bearer ([^\s]{1,256})$/i.exec(r.authorization ?? '')?.[1];
  let via: 'bearer' | 'cookie' | 'query' | undefined;
  if (bearer !== undefined) via = tokenMatches(bearer, token) ? 'bearer' : undefined;
  else if (r.cookieToken !== undefined && tokenMatches(r.cookieToken, token)) via = 'cookie';
  else if (r.queryToken !== undefined && tokenMatches(r.queryToken, token)) via = 'query';
  if (!via) {
    const given = bearer !== undefined || r.cookieToken !== undefined || r.queryToken !== undefined;
    return given
      ? { status: 401, reason: 'bad_token', text: 'wrong token: open the URL `hive web` printed' }
      : { status: 401, reason: 'no_token', text: 'no token: open the URL `hive web` printed (it ends in ?token=…)' };
  }
  if (r.method === 'POST') {
    // An Origin is checked whenever sent; without one, only the header only a script of ours can set.
    if (r.origin !== undefined ? !sameOrigin(r.origin, r.host!) : via !== 'bearer') {
      return { status: 403, reason: 'bad_origin', text: `a POST must come from this page (Origin ${JSON.stringify(r.origin ?? null)} is not http://${r.host})` };
    }
  }
  return { via };
}

function sameOrigin(origin: string, host: string): boolean {
  return origin.toLowerCase() === `http://${host.toLowerCase()}`;
}
