// What makes the mouth drop a server's connection on its own (the rest of IrcNetwork is tested
// against servers in test/mouth/).
import irc from 'irc-framework';
import { describe, expect, it } from 'vitest';
import { frameworkStateSize, MALFORMED_MAX, MALFORMED_WINDOW_MS, ServerGuard, WRITE_BUFFER_MAX } from './server-guard.js';

describe('frameworkStateSize', () => {
  it('counts the capabilities irc-framework keeps from CAP LS/NEW, enabled and requested', () => {
    const client = new irc.Client();
    const before = frameworkStateSize(client);
    // irc-framework's own CAP handler, fed as a server would (continuation lines: no reply written).
    for (let i = 0; i < 20; i++) {
      const names = Array.from({ length: 50 }, (_, j) => `x${i}-${j}`).join(' ');
      (client.connection as unknown as { addReadBuffer(line: string): void }).addReadBuffer(`:s CAP * LS * :${names}`);
    }
    expect(client.network.cap.available.size).toBe(1000);
    client.network.cap.enabled.push('sasl');
    client.network.cap.requested.push('batch', 'sasl');
    expect(frameworkStateSize(client) - before).toBe(1003);
  });
});

describe('ServerGuard', () => {
  it('drops after more than MALFORMED_MAX malformed lines in one window, and starts over in the next', () => {
    const g = new ServerGuard();
    for (let i = 0; i < MALFORMED_MAX; i++) expect(g.malformed(1000)).toBeUndefined();
    expect(g.malformed(1000)).toMatch(/^MalformedFlood: /);
    expect(g.malformed(1000 + MALFORMED_WINDOW_MS + 1)).toBeUndefined();
    g.reset();
    expect(g.malformed(1000)).toBeUndefined();
  });

  it('drops when the server does not read what the bot sends', () => {
    const g = new ServerGuard();
    const socket = (waiting: number) => ({ writableLength: waiting }) as unknown as import('node:net').Socket;
    expect(g.afterLine(socket(WRITE_BUFFER_MAX), undefined)).toBeUndefined();
    expect(g.afterLine(socket(WRITE_BUFFER_MAX + 1), undefined)).toMatch(/^WriteBlocked: /);
  });
});
