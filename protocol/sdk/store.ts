/**
 * A plugin's persistent state: one JSON file in the node's state folder, checked with a schema (the
 * SDK's checks.ts, or zod's) when read, written crash-safe (state-file.ts) after every change.
 * `update` resolves only once the change is on disk, so a plugin that confirms after
 * `await store.update(...)` never loses what it confirmed, even to a kill -9 a millisecond later.
 *
 * A file that exists but cannot be read or does not match the schema is never overwritten: the
 * store logs a clear error, serves the initial value, and refuses every change with a named error,
 * so an operator can look at (or restore) the file before the plugin writes over it.
 */
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { HiveError } from '../errors.js';
import { writeFileAtomic } from './state-file.js';

export interface Store<T> {
  /** The current state. Read it freely; change it only inside `update`. */
  readonly data: T;
  /** The path of the state file. */
  readonly file: string;
  /** Why the file could not be used, when it could not; then every update is refused. */
  readonly broken: string | undefined;
  /** Applies `change` and writes the result; resolves after the write is durable. Changes run one at a time. */
  update<R>(change: (data: T) => R): Promise<R>;
}

export interface StoreOptions<T> {
  stateDir: string | undefined;
  file: string;
  /** checks.ts's checks (no zod in the process) or a zod schema: both have this safeParse. */
  schema: { safeParse(value: unknown): { success: true; data: T } | { success: false; error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } } };
  initial: () => T;
  log: Logger;
}

export async function openStore<T>(opts: StoreOptions<T>): Promise<Store<T>> {
  if (!opts.stateDir) throw new HiveError('Failed', `this plugin keeps state and needs a state folder (HIVE_STATE_DIR)`);
  const file = join(opts.stateDir, opts.file);
  let data: T = opts.initial();
  let broken: string | undefined;
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') broken = `cannot read it: ${(err as Error).message}`;
  }
  if (text !== undefined) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      broken = `it is not JSON: ${(err as Error).message}`;
    }
    if (!broken) {
      const r = opts.schema.safeParse(json);
      if (r.success) data = r.data;
      else broken = `it does not match the expected shape: ${r.error.issues.map((i) => `${i.path.map(String).join('.') || '(top)'}: ${i.message}`).join('; ')}`;
    }
  }
  if (broken) opts.log.error({ file, reason: broken }, 'state file unusable; it will not be overwritten until it is fixed or moved away');

  let queue: Promise<unknown> = Promise.resolve();
  const store: Store<T> = {
    get data() { return data; },
    file,
    get broken() { return broken; },
    update<R>(change: (d: T) => R): Promise<R> {
      const run = async (): Promise<R> => {
        if (broken) throw new HiveError('Failed', `state file ${file} is unusable (${broken}); not changing it`);
        const next = structuredClone(data);
        const result = change(next);
        await writeFileAtomic(file, JSON.stringify(next, null, 1) + '\n');
        data = next;
        return result;
      };
      const p = queue.then(run, run);
      queue = p.catch(() => undefined);
      return p;
    },
  };
  return store;
}
