// What the mouth counts of irc-framework's state to bound it (the rest of IrcNetwork is tested
// against servers in test/mouth/).
import irc from 'irc-framework';
import { describe, expect, it } from 'vitest';
import { frameworkStateSize } from './irc-network.js';

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
