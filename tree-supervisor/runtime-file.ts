/**
 * The runtime file of a running hive: how the other `hive` commands (and remote nodes' operators)
 * find it. It holds the bus address and the hive token, so it is written 0600 in a 0700 folder:
 * $XDG_RUNTIME_DIR/hive/<instance>.json, or /tmp/hive-<uid>/<instance>.json.
 */
import { chmod, lstat, mkdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// The SDK's checks (zod's method names, no zod): the supervisor holds this module for its whole life.
import { c } from '../protocol/sdk/checks.js';
import { writeFileAtomic } from '../protocol/sdk/state-file.js';

export const runtimeInfoSchema = c.object({
  instance: c.string(),
  pid: c.number(),
  bus_address: c.string(),
  supervisor: c.string(),
  token: c.string(),
  private_bus: c.boolean(),
});

export type RuntimeInfo = c.Infer<typeof runtimeInfoSchema>;

export function runtimeDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HIVE_RUNTIME_DIR) return env.HIVE_RUNTIME_DIR;
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'hive');
  return join(tmpdir(), `hive-${process.getuid?.() ?? 'user'}`);
}

/**
 * Makes sure the runtime dir is this user's own before anything is put in it (the private bus, the
 * nodes' sockets, the operator secret): created 0700 if missing; refused when it is a symlink, not
 * a folder, or owned by another user (in the /tmp fallback anyone can create /tmp/hive-<uid>
 * first). Returns what is wrong, or undefined.
 */
export async function ensureRuntimeDir(dir: string = runtimeDir()): Promise<string | undefined> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await lstat(dir);
  if (st.isSymbolicLink()) return `the runtime dir ${dir} is a symbolic link; remove it (or set HIVE_RUNTIME_DIR)`;
  if (!st.isDirectory()) return `the runtime dir ${dir} is not a folder`;
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) return `the runtime dir ${dir} belongs to uid ${st.uid}, not to you (uid ${uid}); remove it (or set HIVE_RUNTIME_DIR)`;
  if ((st.mode & 0o077) !== 0) await chmod(dir, 0o700);
  return undefined;
}

export function runtimeFile(instance: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(runtimeDir(env), `${instance}.json`);
}

export async function writeRuntimeInfo(info: RuntimeInfo): Promise<string> {
  const dir = runtimeDir();
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const file = runtimeFile(info.instance);
  // Written aside and renamed (0600, as every state file): `hive dev` and the CLI poll this file
  // while `hive up` writes it, and a half-written one read "Unexpected end of JSON input".
  await writeFileAtomic(file, JSON.stringify(info, null, 2) + '\n');
  return file;
}

/** The running hive of that instance, or undefined when there is none (or its supervisor is gone). */
export async function readRuntimeInfo(instance: string): Promise<RuntimeInfo | undefined> {
  let text: string;
  try {
    text = await readFile(runtimeFile(instance), 'utf8');
  } catch {
    return undefined;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined; // not a hive's file (it is written whole, by rename)
  }
  const r = runtimeInfoSchema.safeParse(json);
  if (!r.success) return undefined;
  try {
    process.kill(r.data.pid, 0);
  } catch {
    return undefined;
  }
  return r.data;
}

export async function removeRuntimeInfo(instance: string): Promise<void> {
  await rm(runtimeFile(instance), { force: true });
}
