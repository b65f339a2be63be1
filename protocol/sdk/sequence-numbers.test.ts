// The parent's sequence numbers, checked, counted and saved across restarts (no bus: a real state dir).
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WireMessage } from '../codec.js';
import { createLogger } from '../logger.js';
import { Variant, type MessageBus } from './bus.js';
import { createContext, type Counters } from './node-context.js';
import { SequenceNumbers } from './sequence-numbers.js';
import { waitFor } from '../../test/helpers/wait.js';

let dir: string | undefined;
afterEach(async () => { if (dir) await rm(dir, { recursive: true, force: true }); dir = undefined; });

function numbers(stateDir: string | undefined) {
  const counters: Counters = { in: 0, out: 0, dropped: 0, errors: 0 };
  const ctx = createContext({
    name: 'kid', busName: 'org.hive.t.kid', instance: 't', token: 'x', log: createLogger({ node: 'test-seq', level: 'silent' }), counters,
    callTimeoutMs: 1000, bus: () => undefined as unknown as MessageBus, stopping: () => false,
  });
  return { seqs: new SequenceNumbers(ctx, stateDir), counters };
}
const msg = (network: string | undefined, seq: number | bigint | undefined): WireMessage => [[Buffer.from('PING :x')], {
  ...(network ? { 'hive.network': new Variant('s', network) } : {}),
  ...(seq !== undefined ? { 'hive.seq': new Variant('t', BigInt(seq)) } : {}),
}];
const NOW_US = Date.now() * 1000;

describe('SequenceNumbers', () => {
  it('passes a message without a number, drops one already seen, and counts a forged one', async () => {
    const { seqs, counters } = numbers(undefined);
    expect(seqs.accept(msg(undefined, undefined))).toBe(true);
    expect(seqs.accept(msg('net', undefined))).toBe(true);
    expect(seqs.accept(msg('net', NOW_US))).toBe(true);
    expect(seqs.accept(msg('net', NOW_US))).toBe(false);
    expect(seqs.accept(msg('net', NOW_US + 3_600_000_000))).toBe(true); // an hour ahead
    expect(counters.seq_forged).toBe(1);
    expect([...seqs.entries()]).toEqual([['net', NOW_US]]);
    await seqs.flush(); // nothing to write without a state dir
  });

  it('saves the last numbers soon after, and a restart reads them back', async () => {
    dir = await mkdtemp(join(tmpdir(), 'seq-'));
    const first = numbers(dir).seqs;
    first.accept(msg('a', 10));
    first.accept(msg('b', 20));
    // Saved on a timer, without flush(): wait for the file to hold both numbers (a fixed pause
    // could end before the timer's write on a loaded machine). The write is atomic (rename), so a
    // read sees the old file, none, or the whole new one.
    const file = join(dir, '.hive-seq.json');
    const saved = await waitFor(async () => {
      const x = JSON.parse(await readFile(file, 'utf8')) as Record<string, number>;
      return x.a === 10 && x.b === 20 ? x : undefined;
    }, { what: `${file} to hold a: 10, b: 20` });
    expect(saved).toEqual({ a: 10, b: 20 });
    const again = numbers(dir).seqs;
    await again.restore();
    expect([...again.entries()]).toEqual([['a', 10], ['b', 20]]);
    expect(again.accept(msg('a', 10))).toBe(false);
  });

  it('flush writes what is pending at once', async () => {
    dir = await mkdtemp(join(tmpdir(), 'seq-'));
    const { seqs } = numbers(dir);
    seqs.accept(msg('a', 5));
    await seqs.flush();
    expect(JSON.parse(await readFile(join(dir, '.hive-seq.json'), 'utf8'))).toEqual({ a: 5 });
  });

  it('starts without numbers from an unreadable file, and forgets a saved number from the future', async () => {
    dir = await mkdtemp(join(tmpdir(), 'seq-'));
    await writeFile(join(dir, '.hive-seq.json'), '{not json');
    const broken = numbers(dir).seqs;
    await broken.restore();
    expect([...broken.entries()]).toEqual([]);
    await writeFile(join(dir, '.hive-seq.json'), JSON.stringify({ a: 3, b: NOW_US + 3_600_000_000 }));
    const future = numbers(dir).seqs;
    await future.restore();
    expect([...future.entries()]).toEqual([['a', 3]]);
  });
});
