import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { definePlugin, isPlugin } from './define.js';

describe('definePlugin', () => {
  it('makes a plugin the runner recognises; anything else is not one', () => {
    const p = definePlugin({ name: 'x', kind: 'responder' }, () => undefined);
    expect(isPlugin(p)).toBe(true);
    expect(p.manifest).toEqual({ name: 'x', kind: 'responder' });
    for (const v of [undefined, null, 3, () => undefined, { manifest: { name: 'x' } }, { setup: () => undefined }]) expect(isPlugin(v)).toBe(false);
  });

  it('types hive.config from the schema (its output, defaults applied)', () => {
    const config = z.object({ n: z.number().default(1), s: z.string().optional() });
    definePlugin({ name: 'x', kind: 'filter', config }, (hive) => {
      expectTypeOf(hive.config).toEqualTypeOf<{ n: number; s?: string | undefined }>();
    });
    definePlugin({ name: 'y', kind: 'responder' }, (hive) => {
      expectTypeOf(hive.config).toEqualTypeOf<Record<string, unknown>>();
    });
  });
});
