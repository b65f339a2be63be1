// hive web's gatekeeping, without a server (issue 20): the token compare, where it may listen,
// and which requests guard.ts lets through — each hostile case next to the one it must allow.
import { describe, expect, it } from 'vitest';
import { checkRequest, type RequestFacts } from '../../tree-supervisor/web/guard.js';
import { isLoopbackHost, parseListen } from '../../tree-supervisor/web/listen.js';
import { newToken, tokenMatches } from '../../tree-supervisor/web/token.js';

const TOKEN = newToken();
const get = (over: Partial<RequestFacts> = {}): RequestFacts => ({
  method: 'GET', host: '127.0.0.1:8080', origin: undefined, authorization: undefined,
  queryToken: undefined, contentLength: undefined, transferEncoding: undefined, ...over,
});

describe('the token', () => {
  it('is new each time, 43 URL-safe characters, and matches only itself', () => {
    const other = newToken();
    expect(TOKEN).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(other).not.toBe(TOKEN);
    expect(tokenMatches(TOKEN, TOKEN)).toBe(true);
    for (const wrong of [other, TOKEN.slice(1), `${TOKEN}x`, '', 'x'.repeat(300), undefined, null]) expect(tokenMatches(wrong, TOKEN)).toBe(false);
  });
});

describe('--listen', () => {
  it('takes loopback addresses and unix sockets', () => {
    expect(parseListen(undefined)).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 0 });
    expect(parseListen('127.0.0.1:8080')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 8080 });
    expect(parseListen('8081')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 8081 });
    expect(parseListen('localhost:9')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 9 });
    expect(parseListen('[::1]:8080')).toEqual({ kind: 'tcp', host: '::1', port: 8080 });
    expect(parseListen('unix:/run/user/1000/hive-web.sock')).toEqual({ kind: 'unix', path: '/run/user/1000/hive-web.sock' });
  });

  it('refuses any other address, a bad port and a relative or too long socket path, saying why', () => {
    expect(() => parseListen('0.0.0.0:8080')).toThrow(/only a loopback address.*unix:PATH and SSH/);
    expect(() => parseListen('192.168.1.2:80')).toThrow(/only a loopback/);
    expect(() => parseListen('example.com:80')).toThrow(/only a loopback/);
    expect(() => parseListen('127.0.0.1:70000')).toThrow(/not 0-65535/);
    expect(() => parseListen('127.0.0.1:')).toThrow(/HOST:PORT or unix:PATH/);
    expect(() => parseListen('unix:hive.sock')).toThrow(/absolute path/);
    expect(() => parseListen(`unix:/${'a'.repeat(120)}`)).toThrow(/107 bytes/);
    expect(() => parseListen('x'.repeat(300))).toThrow(/longer than 200/);
  });

  it('knows a loopback Host header from a rebinding name', () => {
    for (const h of ['127.0.0.1:8080', 'localhost:1', 'LOCALHOST', '[::1]:8080', '127.0.0.1']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['evil.example:8080', '127.0.0.1.evil.example', 'localhost.evil', '10.0.0.1:8080', '', undefined, `localhost:${'1'.repeat(200)}`]) expect(isLoopbackHost(h), String(h)).toBe(false);
  });
});

describe('checkRequest', () => {
  it('lets a GET through with the token in a header or the address', () => {
    expect(checkRequest(get({ authorization: `Bearer ${TOKEN}` }), TOKEN)).toEqual({ via: 'bearer' });
    expect(checkRequest(get({ queryToken: TOKEN }), TOKEN)).toEqual({ via: 'query' });
  });

  it('serves the empty shell (open) without the token, but still checks its Host, method and body', () => {
    expect(checkRequest(get(), TOKEN, { open: true })).toEqual({ via: 'open' });
    expect(checkRequest(get({ host: 'evil.example' }), TOKEN, { open: true })).toMatchObject({ status: 403, reason: 'bad_host' });
    expect(checkRequest(get({ method: 'PUT' }), TOKEN, { open: true })).toMatchObject({ status: 405, reason: 'bad_method' });
    expect(checkRequest(get({ contentLength: '3' }), TOKEN, { open: true })).toMatchObject({ status: 413, reason: 'too_large' });
  });

  it('refuses without the token or with a wrong one (401), naming which', () => {
    expect(checkRequest(get(), TOKEN)).toMatchObject({ status: 401, reason: 'no_token' });
    expect(checkRequest(get({ queryToken: 'guess' }), TOKEN)).toMatchObject({ status: 401, reason: 'bad_token' });
    expect(checkRequest(get({ authorization: `Basic ${TOKEN}` }), TOKEN)).toMatchObject({ status: 401, reason: 'bad_token' });
    // A wrong bearer is not rescued by a right ?token=: the header says who is asking.
    expect(checkRequest(get({ authorization: 'Bearer nope', queryToken: TOKEN }), TOKEN)).toMatchObject({ status: 401, reason: 'bad_token' });
  });

  it('refuses a foreign Host before the token is looked at (DNS rebinding)', () => {
    expect(checkRequest(get({ host: 'evil.example:8080', authorization: `Bearer ${TOKEN}` }), TOKEN)).toMatchObject({ status: 403, reason: 'bad_host' });
    expect(checkRequest(get({ host: undefined, authorization: `Bearer ${TOKEN}` }), TOKEN)).toMatchObject({ status: 403, reason: 'bad_host' });
  });

  it('takes GET and POST only, and no body', () => {
    for (const method of ['PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE']) expect(checkRequest(get({ method, authorization: `Bearer ${TOKEN}` }), TOKEN), method).toMatchObject({ status: 405, reason: 'bad_method' });
    expect(checkRequest(get({ method: 'POST', contentLength: '5', authorization: `Bearer ${TOKEN}` }), TOKEN)).toMatchObject({ status: 413, reason: 'too_large' });
    expect(checkRequest(get({ method: 'POST', transferEncoding: 'chunked', authorization: `Bearer ${TOKEN}` }), TOKEN)).toMatchObject({ status: 413, reason: 'too_large' });
    expect(checkRequest(get({ method: 'POST', contentLength: '0', authorization: `Bearer ${TOKEN}` }), TOKEN)).toEqual({ via: 'bearer' });
  });

  it('lets a POST through with the bearer header (from this page or none), and no other (CSRF)', () => {
    const post = (over: Partial<RequestFacts>) => checkRequest(get({ method: 'POST', ...over }), TOKEN);
    expect(post({ authorization: `Bearer ${TOKEN}` })).toEqual({ via: 'bearer' });
    expect(post({ authorization: `Bearer ${TOKEN}`, origin: 'http://127.0.0.1:8080' })).toEqual({ via: 'bearer' });
    // A form can put the token in the address, never in a header: a POST does not look there.
    expect(post({ queryToken: TOKEN })).toMatchObject({ status: 401, reason: 'no_token' });
    expect(post({ queryToken: TOKEN, origin: 'http://127.0.0.1:8080' })).toMatchObject({ status: 401, reason: 'no_token' });
    expect(post({ authorization: `Bearer ${TOKEN}`, origin: 'http://evil.example' })).toMatchObject({ status: 403, reason: 'bad_origin' });
    expect(post({ authorization: `Bearer ${TOKEN}`, origin: 'http://127.0.0.1:9999' })).toMatchObject({ status: 403, reason: 'bad_origin' });
    expect(post({ authorization: `Bearer ${TOKEN}`, origin: 'null' })).toMatchObject({ status: 403, reason: 'bad_origin' });
  });
});
