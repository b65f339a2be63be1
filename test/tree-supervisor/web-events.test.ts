// hive web's live pages (issue 20): at most maxClients at once, and a page that does not read its
// events is cut off once maxPending wait for it, counted, while a page that reads keeps every event.
// Real hono event streams over real web streams; only the reading is the test's.
import { describe, expect, it } from 'vitest';
import { SSEStreamingApi } from 'hono/streaming';
import { EventHub } from '../../tree-supervisor/web/events.js';

function page(): { stream: SSEStreamingApi; read: () => Promise<string> } {
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const stream = new SSEStreamingApi(writable, readable);
  const reader = stream.responseReadable.getReader();
  // What arrived until 20 ms of quiet; a read still waiting then is kept for the next call.
  let pending: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
  const read = async () => {
    let text = '';
    for (;;) {
      pending ??= reader.read();
      const r = await Promise.race([pending, new Promise<'idle'>((res) => setTimeout(() => res('idle'), 20))]);
      if (r === 'idle') return text;
      pending = undefined;
      if (r.done) return text;
      text += new TextDecoder().decode(r.value);
    }
  };
  return { stream, read };
}

describe('EventHub', () => {
  it('refuses a page over maxClients, and takes one again when a page leaves', async () => {
    const hub = new EventHub({ maxClients: 2, maxPending: 8 });
    const a = page();
    const first = hub.add(a.stream);
    expect(first).toBeTruthy();
    expect(hub.add(page().stream)).toBeTruthy();
    expect(hub.add(page().stream)).toBe(false);
    a.stream.abort(); // its browser went away
    await (first as Exclude<typeof first, false>).done;
    expect(hub.size).toBe(1);
    expect(hub.add(page().stream)).toBeTruthy();
    hub.closeAll();
    expect(hub.size).toBe(0);
  });

  it('cuts off a page that does not read once maxPending events wait for it, and counts it; a reading page gets them all', async () => {
    let slow = 0;
    const hub = new EventHub({ maxClients: 4, maxPending: 3, onSlow: () => slow++ });
    const stuck = page();
    const reading = page();
    let cut = 0;
    const s = hub.add(stuck.stream, () => cut++)!;
    const r = hub.add(reading.stream)!;
    let got = '';
    for (let i = 0; i < 10; i++) {
      hub.broadcast('tree', { i });
      got += await reading.read();
    }
    await s.done;
    expect(slow).toBe(1);
    expect(hub.slowClosed).toBe(1);
    expect(cut).toBe(1);
    expect(stuck.stream.aborted).toBe(true);
    expect(hub.size).toBe(1);
    for (let i = 0; i < 10; i++) expect(got).toContain(`event: tree\ndata: {"i":${i}}\n\n`);
    r.send('state', { node: 'ping', state: 'running' });
    expect(await reading.read()).toContain('event: state\ndata: {"node":"ping","state":"running"}');
  });

  it('cuts off a page that does not read once maxPendingBytes wait for it, even under maxPending events', async () => {
    let slow = 0;
    const hub = new EventHub({ maxClients: 4, maxPending: 256, maxPendingBytes: 10_000, onSlow: () => slow++ });
    const stuck = page();
    const reading = page();
    const s = hub.add(stuck.stream)!;
    hub.add(reading.stream);
    const big = { text: 'x'.repeat(3_000) };
    let got = '';
    for (let i = 0; i < 5; i++) {
      hub.broadcast('tree', big);
      got += await reading.read();
    }
    await s.done;
    expect(slow).toBe(1);
    expect(hub.size).toBe(1);
    expect(got.split('event: tree').length - 1).toBe(5);
  });
});
