// A server that drops the bot right after it registers: the reconnect backoff grows instead of
// starting over at every registration; it starts over only after the connection stayed up for
// reconnect.stable_after.
import { afterAll, describe, expect, it } from 'vitest';
import { startFakeIrcd, type FakeIrcd } from '../helpers/fake-ircd.js';
import { startHive, type TestHive } from '../helpers/hive.js';
import { sleep } from '../helpers/wait.js';
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
    await sleep(5_000);
    const s = short.registeredAt.slice();
    const l = long.registeredAt.slice();
    // Delays of 100, 200, 400, 800, 1600 ms (±20%): about 6 registrations in 5 s, where a backoff
    // that starts over at every registration gives one every ~150 ms (about 30).
    expect(s.length).toBeGreaterThanOrEqual(4);
    expect(s.length).toBeLessThanOrEqual(8);
    // The delays the mouth chose grow (the wall-clock gaps between registrations add the time each
    // connection takes, which a loaded machine makes larger than the backoff's steps).
    const delays = hive.logs.filter((x) => x.node === 'mouth' && x.network === 'short' && x.msg === 'disconnected; reconnecting').map((x) => x.delayMs as number);
    expect(delays.length).toBeGreaterThanOrEqual(s.length - 1);
    for (let i = 1; i < Math.min(delays.length, 5); i++) expect(delays[i]!).toBeGreaterThan(delays[i - 1]!);
    const gaps = s.slice(1).map((t, i) => t - s[i]!);
    gaps.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(delays[i]!));
    // The connection that stood for stable_after comes back after min_delay each time.
    expect(l.length).toBeGreaterThanOrEqual(6);
    const longGaps = l.slice(1).map((t, i) => t - l[i]!);
    expect(Math.max(...longGaps)).toBeLessThan(600 + 1_000);
    const mouth = await hive.node('mouth');
    expect(mouth.counters['short.connects']).toBeGreaterThanOrEqual(s.length);
    expect(mouth.restarts).toBe(0);
  });
});
