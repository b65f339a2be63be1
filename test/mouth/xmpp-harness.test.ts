// The tests' Prosody (test/helpers/prosody.ts): users registered with prosodyctl, killed and
// started again on the same port, its log readable, its folder gone after stop.
import { existsSync } from 'node:fs';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { startProsody } from '../helpers/prosody.js';
import { connectXmpp } from '../helpers/xmpp-client.js';

const accepts = (port: number) => new Promise<boolean>((resolve) => {
  const s = net.connect({ host: '127.0.0.1', port });
  s.once('connect', () => { s.destroy(); resolve(true); });
  s.once('error', () => resolve(false));
});

describe('test Prosody', () => {
  it('registers users, survives kill and start on the same port, and cleans up', async () => {
    const p = await startProsody();
    try {
      await p.register('zed', 'pw');
      const c = await connectXmpp(p, 'zed', 'pw');
      expect(c.jid).toBe('zed@localhost/test');
      const room = await c.join('harness@conference.localhost', 'zed');
      expect(room.attrs.type).toBeUndefined();
      await c.close();
      await p.kill();
      expect(await accepts(p.port)).toBe(false);
      await p.start();
      // The account outlived the restart (kept on disk).
      const again = await connectXmpp(p, 'zed', 'pw');
      await again.close();
      expect(p.logTail(5)).toMatch(/prosody\.log/);
      await expect(connectXmpp(p, 'zed', 'wrong')).rejects.toThrow(/not-authorized/);
    } finally {
      await p.stop();
    }
    expect(existsSync(p.dir)).toBe(false);
  });
});
