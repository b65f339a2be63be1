/** Finds a program on PATH (and in sbin folders, where Debian puts some daemons). */
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

export default async function which(program: string): Promise<string | undefined> {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, program);
    try {
      await access(p, constants.X_OK);
      return p;
    } catch { /* next */ }
  }
  return undefined;
}
