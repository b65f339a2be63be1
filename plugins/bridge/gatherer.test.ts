import { describe, expect, it } from 'vitest';
import { toIncoming, type Incoming } from '../../protocol/sdk/index.js';
import { Gatherer, gatherKey } from './gatherer.js';

const line = (text: string, msgid: string | null = 'm1', nick = 'alice', target = '#r@muc') =>
  toIncoming({ lines: [Buffer.from(`:${nick}!u@h PRIVMSG ${target} :${text}`)], meta: { 'hive.network': 'x', ...(msgid ? { 'hive.msgid': msgid } : {}) } });
const texts = (m: Incoming) => m.lines.map((l) => l.toString().split(' :')[1]);

describe('Gatherer', () => {
  it('keys a one-line message by network, command, target, speaker and id; none without an id', () => {
    expect(gatherKey(line('a'))).toBe(gatherKey(line('b', 'm1', 'alice', '#R@MUC')));
    expect(gatherKey(line('a'))).not.toBe(gatherKey(line('a', 'm2')));
    expect(gatherKey(line('a'))).not.toBe(gatherKey(line('a', 'm1', 'bob')));
    expect(gatherKey(line('a', null))).toBeUndefined();
  });

  it('hands on the lines that follow each other as one message, at most maxLines, once idle', async () => {
    const out: Incoming[] = [];
    const g = new Gatherer((m) => { out.push(m); return m.lines.length; }, { idleMs: 20, maxMs: 1000, maxLines: 3 });
    const done = ['a', 'b', 'c', 'd'].map((t) => { const m = line(t); return g.add(m, gatherKey(m)!); });
    expect(out).toHaveLength(1); // the fourth line started a new message: the first three went
    expect(await Promise.all(done)).toEqual([3, 3, 3, 1]);
    expect(out.map(texts)).toEqual([['a', 'b', 'c'], ['d']]);
  });

  it('flushes at maxMs from the first line even while lines keep coming', async () => {
    const out: Incoming[] = [];
    const g = new Gatherer((m) => { out.push(m); }, { idleMs: 30, maxMs: 50, maxLines: 100 });
    for (let i = 0; i < 6; i++) {
      const m = line(`l${i}`);
      void g.add(m, gatherKey(m)!);
      await new Promise((r) => setTimeout(r, 15));
    }
    await new Promise((r) => setTimeout(r, 60));
    expect(out.length).toBeGreaterThanOrEqual(2);
    expect(out.flatMap(texts)).toEqual(['l0', 'l1', 'l2', 'l3', 'l4', 'l5']);
  });
});
