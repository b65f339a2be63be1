// The runtime file is read by `hive dev` and the CLI while `hive up` may be writing it: a reader
// never sees half of it, and a file that is not a hive's reads as no hive, never as an exception.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readRuntimeInfo, runtimeFile, writeRuntimeInfo, type RuntimeInfo } from './runtime-file.js';

let dir: string;
const saved = process.env.HIVE_RUNTIME_DIR;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hive-runtime-test-'));
  process.env.HIVE_RUNTIME_DIR = dir;
});
afterEach(async () => {
  if (saved === undefined) delete process.env.HIVE_RUNTIME_DIR;
  else process.env.HIVE_RUNTIME_DIR = saved;
  await rm(dir, { recursive: true, force: true });
});

const info = (n: number): RuntimeInfo => ({
  instance: 'rt', pid: process.pid, bus_address: `unix:path=/tmp/bus-${n}-${'x'.repeat(4000)}`, supervisor: 'org.hive.rt.Supervisor', token: `t${n}`, private_bus: true,
});

describe('runtime file', () => {
  it('is written whole (0600, nothing left aside) and read back', async () => {
    const file = await writeRuntimeInfo(info(1));
    expect(file).toBe(runtimeFile('rt'));
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['rt.json']);
    expect(await readRuntimeInfo('rt')).toEqual(info(1));
  });

  it('a truncated or foreign file reads as no hive, not as an exception', async () => {
    const whole = JSON.stringify(info(1));
    await writeFile(runtimeFile('rt'), whole.slice(0, 100));
    await expect(readRuntimeInfo('rt')).resolves.toBeUndefined();
    await writeFile(runtimeFile('rt'), '');
    await expect(readRuntimeInfo('rt')).resolves.toBeUndefined();
    await writeFile(runtimeFile('rt'), JSON.stringify({ instance: 'rt' }));
    await expect(readRuntimeInfo('rt')).resolves.toBeUndefined();
  });

  it('a reader polling while it is rewritten sees a whole file every time', async () => {
    await writeRuntimeInfo(info(0));
    let writing = true;
    const reads: (RuntimeInfo | undefined)[] = [];
    const reader = (async () => { while (writing) reads.push(await readRuntimeInfo('rt')); })();
    for (let n = 1; n <= 200; n++) await writeRuntimeInfo(info(n));
    writing = false;
    await reader;
    expect(reads.length).toBeGreaterThan(0);
    for (const r of reads) expect(r?.token).toMatch(/^t\d+$/);
  });
});
