// Issue 14, item 6: 5,000 JOINs made auth send 5,000 WHOs at once and fill the mouth's queue.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WhoxQueue } from './whox-queue.js';

afterEach(() => { vi.useRealTimers(); });

function setUp(opts: { fail?: boolean } = {}) {
  const sent: string[] = [];
  const gaveUp: string[] = [];
  const q = new WhoxQueue({
    send: async (network, channel) => { sent.push(`${network} ${channel}`); if (opts.fail) throw new Error('refused'); },
    onGiveUp: (_n, channel) => gaveUp.push(channel),
    pendingMax: 10,
    timeoutMs: 1000,
    retryMs: 500,
  });
  return { q, sent, gaveUp };
}

describe('WhoxQueue', () => {
  it('keeps one WHO in flight per network and a bounded waiting list, whatever the storm', () => {
    vi.useFakeTimers();
    const { q, sent, gaveUp } = setUp();
    for (let i = 0; i < 5000; i++) q.request('net', `#c${i}`);
    expect(sent).toEqual(['net #c0']);
    expect(q.pending).toBe(10);
    expect(q.stats.skipped).toBe(5000 - 11);
    expect(gaveUp).toHaveLength(5000 - 11);
    // The next goes when the server ends the last (315), in order.
    q.answered('net', '#C0');
    expect(sent).toEqual(['net #c0', 'net #c1']);
    // Or after the timeout when it never does.
    vi.advanceTimersByTime(1000);
    expect(sent.at(-1)).toBe('net #c2');
    expect(q.stats.timedOut).toBe(1);
    // Another network has its own slot.
    q.request('other', '#x');
    expect(sent.at(-1)).toBe('other #x');
  });

  it('coalesces a channel already waiting or in flight', () => {
    const { q, sent } = setUp();
    q.request('net', '#a');
    q.request('net', '#A');
    q.request('net', '#b');
    q.request('net', '#b');
    expect(sent).toEqual(['net #a']);
    expect(q.pending).toBe(1);
    expect(q.stats.coalesced).toBe(2);
  });

  it('pauses after a refused WHO, gives that channel up, and forgets everything on reset', async () => {
    vi.useFakeTimers();
    const { q, sent, gaveUp } = setUp({ fail: true });
    q.request('net', '#a');
    q.request('net', '#b');
    await vi.advanceTimersByTimeAsync(0);
    expect(q.stats.failed).toBe(1);
    expect(gaveUp).toEqual(['#a']);
    expect(sent).toEqual(['net #a']);
    await vi.advanceTimersByTimeAsync(500);
    expect(sent).toEqual(['net #a', 'net #b']);
    q.request('net', '#c');
    q.reset('net');
    expect(q.pending).toBe(0);
    q.request('net', '#d');
    expect(sent.at(-1)).toBe('net #d');
  });
});
