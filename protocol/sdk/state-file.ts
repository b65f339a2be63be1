/**
 * Crash-safe state files: write to a temporary file, fsync, rename over the old one, fsync the
 * folder. A kill -9 at any moment leaves either the old file or the new one, never half a file.
 *
 * One write per file is in flight at a time, in this process: a write asked for while another is
 * running waits, and of several that waited only the latest is written (each caller's promise
 * resolves once its data, or data written after it, is on disk). Overlapping writes sharing one
 * temporary name raced each other's rename (issue 14, item 12). The temporary name also carries a
 * per-write number, so that two processes on one folder cannot share it either.
 */
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';

interface Pending { data: string | Buffer; waiters: { resolve: () => void; reject: (err: unknown) => void }[] }
interface FileWriter { running: boolean; next: Pending | undefined }

const writers = new Map<string, FileWriter>();
let tmpCounter = 0;

export function writeFileAtomic(path: string, data: string | Buffer): Promise<void> {
  let w = writers.get(path);
  if (!w) { w = { running: false, next: undefined }; writers.set(path, w); }
  const writer = w;
  return new Promise<void>((resolve, reject) => {
    // Coalesce: what waits is replaced by the latest data; every waiter is answered by that write.
    if (writer.next) {
      writer.next.data = data;
      writer.next.waiters.push({ resolve, reject });
    } else {
      writer.next = { data, waiters: [{ resolve, reject }] };
    }
    if (!writer.running) void drain(path, writer);
  });
}

async function drain(path: string, w: FileWriter): Promise<void> {
  w.running = true;
  while (w.next) {
    const job = w.next;
    w.next = undefined;
    try {
      await writeOnce(path, job.data);
      for (const x of job.waiters) x.resolve();
    } catch (err) {
      for (const x of job.waiters) x.reject(err);
    }
  }
  w.running = false;
  writers.delete(path);
}

async function writeOnce(path: string, data: string | Buffer): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${++tmpCounter}.tmp`);
  const fh = await open(tmp, 'w', 0o600);
  try {
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  const d = await open(dir, 'r');
  try { await d.sync(); } finally { await d.close(); }
}

/**
 * Reads a JSON state file; `fallback` when it does not exist yet. A file that exists but cannot
 * be read or parsed is treated as absent too: `fallback`, after `onUnreadable` was told why (the
 * caller logs a warning). Errors are thrown only when no `onUnreadable` is given.
 */
export async function readJsonFile<T>(path: string, fallback: T, onUnreadable?: (reason: string) => void): Promise<T> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return fallback;
    if (!onUnreadable) throw err;
    onUnreadable(`cannot read it: ${(err as Error).message}`);
    return fallback;
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    if (!onUnreadable) throw err;
    onUnreadable(`it is not JSON: ${(err as Error).message}`);
    return fallback;
  }
}
