// A server that drops the bot right after it registers: the reconnect backoff grows instead of
// starting over at every registration; it starts over only after the connection stayed up for
// reconnect.stable_after.
import { afterAll, describe, expect, it } from 'vitest';
import { startFakeIrcd, type FakeIrcd } from '../helpers/fake-ircd.js';
import { startHive, type TestHive } from '../helpers/hive.js';
import { waitFor } from '../helpers/wait.js';
import { ircNetwork } from './util.js';

const fakes: FakeIrcd[] = [];
let hive: TestHive | undefined;

afterAll(async () => {
  await hive?.stop();
  for (const f of fakes) await f.close();
});

/** A fake server that closes each connection `upMs` after registering it; registration times are kept. */
async function flappingServer(upMs: number): Promise<{ fake: FakeIrcd; registeredAt: number[] }> {
  const registeredAt: number[] = [];
  const fake = await startFakeIrcd({ onRegistered: (c) => { registeredAt.push(Date.now()); setTimeout(() => c.socket.destroy(), upMs); } });
  fakes.push(fake);
  return { fake, registeredAt };
}

describe('reconnect backoff', () => {
  it('grows while connections drop right after registering; starts over after stable_after', async () => {
    // `short` is dropped 50 ms after registering, long before its stable_after of 1 minute;
    // `long` stays up 600 ms each time, past its stable_after of 100 ms.
    const short = await flappingServer(50);
    const long = await flappingServer(600);
    const reconnect = { min_delay: 100, max_delay: 5_000 };
    hive = await startHive({
      networks: {
        short: ircNetwork(short.fake, { channels: [], reconnect: { ...reconnect, stable_after: '1m' } }),
        long: ircNetwork(long.fake, { channels: [], reconnect: { ...reconnect, stable_after: '100ms' } }),
      },
      plugins: [{ name: 'ping', use: 'ping' }],
    });
    // Wait for the registrations themselves rather than counting after a fixed 5 s: connect and
    // registration time under load ate into that window. Both servers are counted in this process at
    // the same moment, so load slows both alike.
    await waitFor(() => long.registeredAt.length >= 6 && short.registeredAt.length >= 4, {
      timeout: 20_000, what: () => `6 registrations on long (${long.registeredAt.length}) and 4 on short (${short.registeredAt.length})`,
    });
    const s = short.registeredAt.slice();
    const l = long.registeredAt.slice();
    // Delays of 100, 200, 400, 800, 1600 ms (±20%): by the time long (a cycle of 600 ms up + ~100 ms)
    // has registered 6 times, short has about 6 (at most 7 when unloaded; extra connect time per cycle
    // slows long at least as much as short). A backoff that starts over at every registration gives
    // short one every ~150 ms + connect time, about 20 by then.
    expect(s.length).toBeLessThanOrEqual(8);
    // The mouth's own log: its decisions and, in its own clock, when it registered.
    const mouthLog = (network: string, msg: string) => hive!.logs.filter((x) => x.node === 'mouth' && x.network === network && x.msg === msg);
    // The fake server counts a registration before the mouth's log of it (and of the drop before it)
    // has come through the supervisor to this process: wait for those lines.
    await waitFor(() => mouthLog('short', 'registered').length >= s.length && mouthLog('short', 'disconnected; reconnecting').length >= s.length - 1
      && mouthLog('long', 'disconnected; reconnecting').length >= l.length - 1, { timeout: 10_000, what: "the mouth's log of those registrations and drops" });
    // The delays the mouth chose grow.
    const delays = mouthLog('short', 'disconnected; reconnecting').map((x) => x.delayMs as number);
    for (let i = 1; i < Math.min(delays.length, 5); i++) expect(delays[i]!).toBeGreaterThan(delays[i - 1]!);
    // And it waited them, in the mouth's own clock (not the test's read times, which a stall
    // distorts): the registration after a drop comes at least the chosen delay after the one before
    // it. Not after the drop's log line: a Node timer counts from the event loop's time at the start
    // of the turn, so after a busy turn it fires that much sooner than the log line's time + delay.
    const shortLog = hive.logs.filter((x) => x.node === 'mouth' && x.network === 'short' && (x.msg === 'registered' || x.msg === 'disconnected; reconnecting'));
    const seen = JSON.stringify(shortLog.map((x) => [x.time, x.msg, x.delayMs]));
    let waited = 0;
    shortLog.forEach((d, i) => {
      if (d.msg !== 'disconnected; reconnecting') return;
      const prev = shortLog.slice(0, i).findLast((x) => x.msg === 'registered');
      const next = shortLog.slice(i + 1).find((x) => x.msg === 'registered');
      if (prev === undefined || next === undefined) return;
      expect((next.time as number) - (prev.time as number), seen).toBeGreaterThanOrEqual(d.delayMs as number);
      waited++;
    });
    expect(waited).toBeGreaterThanOrEqual(s.length - 1);
    // The connection that stood for stable_after comes back after min_delay (100 ms ±20%) each time:
    // the mouth's chosen delays, not the wall-clock gaps between registrations.
    const longDelays = mouthLog('long', 'disconnected; reconnecting').map((x) => x.delayMs as number);
    expect(longDelays.length).toBeGreaterThanOrEqual(l.length - 1);
    for (const d of longDelays) expect(d).toBeLessThanOrEqual(120);
    const mouth = await hive.node('mouth');
    expect(mouth.counters['short.connects']).toBeGreaterThanOrEqual(s.length);
    expect(mouth.restarts).toBe(0);
  });
});
