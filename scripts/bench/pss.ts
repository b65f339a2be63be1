/**
 * Memory of a bot as the issue 17 bench counts it: PSS (proportional set size, from
 * /proc/PID/smaps_rollup), which counts each shared page once across the processes sharing it, so
 * the PSS of several processes adds up to what they cost together. A bot is a root process and
 * every process under it (for a hive: the supervisor, its bus, the mouth, the plugins, their
 * proxies and sandboxes).
 */
import { readdir, readFile } from 'node:fs/promises';

/** PSS of one process in MB; 0 if it is gone (processes may end while a tree is being read). */
export async function pssMb(pid: number): Promise<number> {
  try {
    const s = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
    return Number(/^Pss:\s+(\d+)/m.exec(s)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/** The root and every process under it, from each process's parent in /proc/PID/stat. */
export async function processTree(root: number): Promise<{ pid: number; comm: string }[]> {
  const parent = new Map<number, number>(), comm = new Map<number, string>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command name, which is in parentheses and may contain anything.
      const close = stat.lastIndexOf(')');
      parent.set(Number(entry), Number(stat.slice(close + 2).split(' ')[1]));
      comm.set(Number(entry), stat.slice(stat.indexOf('(') + 1, close));
    } catch { /* ended meanwhile */ }
  }
  const out: number[] = [root];
  for (let i = 0; i < out.length; i++) for (const [pid, ppid] of parent) if (ppid === out[i]) out.push(pid);
  return out.filter((pid) => comm.has(pid)).map((pid) => ({ pid, comm: comm.get(pid)! }));
}

/** PSS summed over a process tree: total, how many processes (and how many of them node), MB per command name. */
export async function treePss(root: number) {
  const procs = await processTree(root);
  const by: Record<string, number> = {};
  let mb = 0;
  for (const p of procs) {
    const x = await pssMb(p.pid);
    mb += x;
    by[p.comm] = (by[p.comm] ?? 0) + x;
  }
  return { mb, processes: procs.length, node_processes: procs.filter((p) => p.comm === 'node').length, by };
}
