import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import pino from 'pino';
import { openStore } from './store.js';

const schema = z.object({ items: z.array(z.string()) });
let dir: string;
const log = pino({ level: 'silent' });
afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

describe('openStore', () => {
  it('starts from the initial value, writes every change and reads it back', async () => {
    dir = await mkdtemp(join(tmpdir(), 'store-'));
    const s = await openStore({ stateDir: dir, file: 'x.json', schema, initial: () => ({ items: [] }), log });
    expect(s.data.items).toEqual([]);
    const n = await Promise.all(['a', 'b', 'c'].map((v) => s.update((d) => d.items.push(v))));
    expect(n).toEqual([1, 2, 3]);
    expect(JSON.parse(await readFile(join(dir, 'x.json'), 'utf8'))).toEqual({ items: ['a', 'b', 'c'] });
    const again = await openStore({ stateDir: dir, file: 'x.json', schema, initial: () => ({ items: [] }), log });
    expect(again.data.items).toEqual(['a', 'b', 'c']);
  });

  it('a failing change leaves the state as it was', async () => {
    dir = await mkdtemp(join(tmpdir(), 'store-'));
    const s = await openStore({ stateDir: dir, file: 'x.json', schema, initial: () => ({ items: ['keep'] }), log });
    await expect(s.update((d) => { d.items.push('no'); throw new Error('boom'); })).rejects.toThrow('boom');
    expect(s.data.items).toEqual(['keep']);
  });

  it('never overwrites a corrupt or mis-shaped file, and says why', async () => {
    dir = await mkdtemp(join(tmpdir(), 'store-'));
    for (const [content, why] of [['{"items": [1', /not JSON/], ['{"items": "x"}', /items/]] as const) {
      await writeFile(join(dir, 'x.json'), content);
      const s = await openStore({ stateDir: dir, file: 'x.json', schema, initial: () => ({ items: [] }), log });
      expect(s.broken).toMatch(why);
      await expect(s.update((d) => d.items.push('new'))).rejects.toMatchObject({ name: 'HiveError', code: 'Failed' });
      expect(await readFile(join(dir, 'x.json'), 'utf8')).toBe(content);
    }
  });
});
