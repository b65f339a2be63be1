// Crash-safe state files under overlapping writes (issue 14, item 12).
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readJsonFile, writeFileAtomic } from './state-file.js';

let dir: string;
afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

describe('writeFileAtomic', () => {
  it('200 overlapping saves of different lengths leave valid JSON of one of them, and no temporary file', async () => {
    dir = await mkdtemp(join(tmpdir(), 'state-file-'));
    const file = join(dir, '.hive-seq.json');
    const payloads = Array.from({ length: 200 }, (_, i) => JSON.stringify({ net: i, pad: 'x'.repeat((i * 37) % 500) }));
    const seen: string[] = [];
    // Not awaited one by one: a burst, as the sequence save had under traffic.
    const writes = payloads.map((p, i) => writeFileAtomic(file, p).then(async () => {
      if (i % 20 === 0) seen.push(await readFile(file, 'utf8'));
    }));
    await Promise.all(writes);
    const text = await readFile(file, 'utf8');
    expect(() => JSON.parse(text)).not.toThrow();
    expect(text).toBe(payloads[199]); // the latest wins
    for (const s of seen) expect(payloads).toContain(s);
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('resolves every caller, including those whose data was coalesced into a later write', async () => {
    dir = await mkdtemp(join(tmpdir(), 'state-file-'));
    const file = join(dir, 'a.json');
    const results = await Promise.allSettled([1, 2, 3, 4].map((n) => writeFileAtomic(file, String(n))));
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    expect(await readFile(file, 'utf8')).toBe('4');
  });
});

describe('readJsonFile', () => {
  it('gives the fallback for a missing file without a warning', async () => {
    dir = await mkdtemp(join(tmpdir(), 'state-file-'));
    const why: string[] = [];
    expect(await readJsonFile(join(dir, 'none.json'), { a: 1 }, (r) => why.push(r))).toEqual({ a: 1 });
    expect(why).toEqual([]);
  });

  it('treats an unreadable file as absent, and says why', async () => {
    dir = await mkdtemp(join(tmpdir(), 'state-file-'));
    const file = join(dir, 'broken.json');
    await writeFile(file, '{"net": 12');
    const why: string[] = [];
    expect(await readJsonFile(file, {}, (r) => why.push(r))).toEqual({});
    expect(why).toHaveLength(1);
    expect(why[0]).toMatch(/not JSON/);
  });
});
