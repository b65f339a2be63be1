// docs/writing-plugins.md cannot rot: every code block in it must be a whole file, or the lines
// between `--8<-- [start:NAME]` and `--8<-- [end:NAME]` of a file, under plugins/examples/,
// test/examples/ or protocol/sdk/python/ (the Python SDK); and every such file must be named by a test that runs it.
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from '../helpers/paths.js';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (f === '__pycache__' || f === 'node_modules') return [];
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

/** Every piece of a file a block may show: the whole file and each marked region. */
function pieces(path: string): { name: string; text: string }[] {
  const text = readFileSync(path, 'utf8');
  const out = [{ name: relative(ROOT, path), text: text.replace(/\n+$/, '') }];
  const lines = text.split('\n');
  lines.forEach((l, i) => {
    const m = /--8<-- \[start:([\w-]+)\]/.exec(l);
    if (!m) return;
    const end = lines.findIndex((x, j) => j > i && x.includes(`--8<-- [end:${m[1]}]`));
    if (end !== -1) out.push({ name: `${relative(ROOT, path)}#${m[1]}`, text: lines.slice(i + 1, end).join('\n') });
  });
  return out;
}

const guide = readFileSync(join(ROOT, 'docs/writing-plugins.md'), 'utf8');
const blocks = [...guide.matchAll(/^```[\w-]*\n([\s\S]*?)\n```$/gm)].map((m) => m[1]!);
const sources = [...files(join(ROOT, 'plugins/examples')), ...files(join(ROOT, 'test/examples')), ...files(join(ROOT, 'protocol/sdk/python'))];
const all = sources.flatMap(pieces);

describe('docs/writing-plugins.md', () => {
  it('has code blocks for TypeScript, Python and shell', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(10);
    for (const lang of ['ts', 'python', 'sh']) expect(guide).toContain('```' + lang + '\n');
  });

  it('every code block is cut from an example file or a test', () => {
    const unmatched = blocks.filter((b) => !all.some((p) => p.text === b));
    expect(unmatched.map((b) => b.split('\n').slice(0, 3).join('\n'))).toEqual([]);
  });

  it('every file the guide quotes is run by a test', () => {
    const tests = files(join(ROOT, 'test')).filter((f) => f.endsWith('.test.ts') && !f.includes('/docs/')).map((f) => readFileSync(f, 'utf8')).join('\n');
    const quoted = new Set(blocks.map((b) => all.find((p) => p.text === b)?.name.split('#')[0]).filter((n): n is string => !!n));
    const base = (n: string) => n.split('/').pop()!.replace(/\.ts$/, '');
    // Run by a test: named in one, or imported by a file a test names (hive_node.py by responder.py).
    const named = sources.map((f) => relative(ROOT, f)).filter((n) => tests.includes(base(n)));
    const importers = named.map((n) => readFileSync(join(ROOT, n), 'utf8')).join('\n');
    const run = (n: string) => n.startsWith('test/') || named.includes(n) || new RegExp(`\\b(from|import)\\s+${base(n).replace(/\.\w+$/, '')}\\b`).test(importers);
    const unrun = [...quoted].filter((n) => !run(n));
    expect(unrun).toEqual([]);
  });
});
