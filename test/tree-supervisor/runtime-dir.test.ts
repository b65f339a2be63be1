// The runtime dir must be the user's own before hive up puts its bus, sockets and secret there
// (in the /tmp fallback anyone can create /tmp/hive-<uid> first).
import { afterAll, describe, expect, it } from 'vitest';
import { chown, lstat, mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { ROOT } from '../helpers/paths.js';

const base = await mkdtemp(join(tmpdir(), 'hive-rundir-'));
afterAll(() => rm(base, { recursive: true, force: true }));

async function up(runDir: string) {
  const config = join(base, 'hive.yaml');
  await writeFile(config, 'instance: rundir\nbus: private\nnetworks: { t: { type: terminal } }\nplugins: [{ name: ping, use: ping }]\n');
  return execa(join(ROOT, 'bin/hive'), ['up', '--config', config], { env: { HIVE_RUNTIME_DIR: runDir, HIVE_LOG_FORMAT: 'json' }, input: '!ping\n', reject: false, timeout: 30_000 });
}

describe('the runtime dir', () => {
  it('is made 0700 when missing, and a hive runs in it', async () => {
    const dir = join(base, 'fresh');
    const r = await up(dir);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('pong');
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
  });

  it('is refused as a symbolic link, or when another user owns it, before anything starts', async () => {
    const elsewhere = join(base, 'elsewhere');
    await mkdir(elsewhere);
    const link = join(base, 'link');
    await symlink(elsewhere, link);
    const viaLink = await up(link);
    expect(viaLink.exitCode).toBe(1);
    expect(viaLink.stderr).toContain('is a symbolic link');
    const theirs = join(base, 'theirs');
    await mkdir(theirs, { mode: 0o777 });
    await chown(theirs, 65534, 65534); // as root (the tests' machine); nobody's
    const owned = await up(theirs);
    expect(owned.exitCode).toBe(1);
    expect(owned.stderr).toContain('belongs to uid 65534');
    // Nothing was started in either: no bus folder, no runtime file.
    for (const d of [elsewhere, theirs]) expect(await lstat(join(d, 'rundir.bus')).then(() => 'there', () => 'absent')).toBe('absent');
  });
});
