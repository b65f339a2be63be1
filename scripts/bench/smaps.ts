/**
 * Where one process's memory is (issue 17): its /proc/PID/smaps, PSS summed by kind of mapping.
 *
 * - code: file-backed mappings (node's binary, shared libraries, anything mmap'd from a file);
 * - brk: glibc's main malloc arena (`[heap]`);
 * - arenas: glibc's other malloc arenas (one per thread that mallocs: V8's workers, libuv's
 *   pool), recognised as anonymous mappings at a 64 MB-aligned start (HEAP_MAX_SIZE on 64-bit);
 * - stacks: `[stack]` and thread stacks (anonymous, right after a one-page guard, ~8 MB);
 * - v8: every other anonymous mapping, which in a node process is almost all V8's heap pages
 *   (256 KB chunks and the code range) plus malloc's own large blocks (≥ mmap_threshold, e.g. a
 *   big Buffer), which cannot be told apart from here.
 */
import { readFile } from 'node:fs/promises';

export interface SmapsBreakdown { code: number; brk: number; arenas: number; stacks: number; v8: number; total: number; anon_private: number }

const ARENA_ALIGN = 64n * 1024n * 1024n;

/** PSS by kind of mapping, in MB (0s if the process is gone). */
export async function smapsBreakdown(pid: number): Promise<SmapsBreakdown> {
  const out: SmapsBreakdown = { code: 0, brk: 0, arenas: 0, stacks: 0, v8: 0, total: 0, anon_private: 0 };
  let text: string;
  try { text = await readFile(`/proc/${pid}/smaps`, 'utf8'); } catch { return out; }
  let kind: keyof SmapsBreakdown = 'v8';
  let prevGuardEnd = -1n;
  for (const line of text.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const start = BigInt(`0x${head[1]}`), end = BigInt(`0x${head[2]}`), perms = head[3]!, path = head[4]!.trim();
      const size = end - start;
      if (path === '[heap]') kind = 'brk';
      else if (path === '[stack]') kind = 'stacks';
      else if (path.startsWith('/') || path.startsWith('anon_inode') || path.startsWith('/memfd')) kind = 'code';
      else if (path.startsWith('[')) kind = 'code'; // [vdso], [vvar]: the kernel's
      else if (start % ARENA_ALIGN === 0n && perms.startsWith('rw')) kind = 'arenas';
      else if (start === prevGuardEnd && size >= 1024n * 1024n) kind = 'stacks';
      else kind = 'v8';
      prevGuardEnd = perms === '---p' && size === 4096n ? end : -1n;
      continue;
    }
    const pss = /^Pss:\s+(\d+) kB/.exec(line);
    if (pss) {
      const mb = Number(pss[1]) / 1024;
      out[kind] += mb;
      out.total += mb;
      continue;
    }
    const priv = /^Private_(?:Clean|Dirty):\s+(\d+) kB/.exec(line);
    if (priv && kind !== 'code') out.anon_private += Number(priv[1]) / 1024;
  }
  for (const k of Object.keys(out) as (keyof SmapsBreakdown)[]) out[k] = Math.round(out[k] * 10) / 10;
  return out;
}
