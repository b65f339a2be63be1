// A `hive up` that lost its bus during start-up survived two SIGTERMs (issue 15): a start-up bus
// call (RequestName) waited for ever on a connection that had closed, and the second signal did
// not end the process. The bus here is a real dbus-daemon behind a socket relay that kills it the
// moment the supervisor asks for its name, so the loss always falls inside that call.
import { afterEach, describe, expect, it } from 'vitest';
import { createConnection, createServer, type Server } from 'node:net';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { stringify } from 'yaml';
import { ENV } from '../../protocol/names.js';
import { startPrivateBus, type PrivateBus } from '../../tree-supervisor/private-bus.js';
import { HIVE_BIN, alive } from '../helpers/hive.js';
import { sleep, waitFor } from '../helpers/wait.js';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
  cleanup = [];
});

/** The processes whose environment names this hive instance (every node's does). */
function processesOf(instance: string): number[] {
  const mark = `${ENV.instance}=${instance}\0`;
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((pid) => {
    try { return readFileSync(`/proc/${pid}/environ`, 'latin1').includes(mark); } catch { return false; }
  }).map(Number).filter(alive);
}

/** A unix socket in front of the bus that kills the bus when a client sends RequestName. */
function killingRelay(path: string, bus: PrivateBus): { server: Server; killed: () => boolean } {
  const socket = /unix:path=([^,]+)/.exec(bus.address)![1]!;
  let killed = false;
  const server = createServer((client) => {
    const upstream = createConnection(socket);
    upstream.on('data', (d) => client.write(d));
    upstream.on('close', () => client.destroy());
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.on('data', (d: Buffer) => {
      if (d.includes('RequestName')) {
        killed = true;
        process.kill(bus.pid, 'SIGKILL');
        return;
      }
      upstream.write(d);
    });
  });
  server.listen(path);
  return { server, killed: () => killed };
}

/** A temp dir, a real bus, and a relay to it that kills the bus once the supervisor asks for its name. */
async function lostBusSetUp() {
  const dir = await mkdtemp(join(tmpdir(), 'hive-lost-bus-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  const bus = await startPrivateBus({ dir: join(dir, 'bus') });
  cleanup.push(() => bus.stop());
  const relay = killingRelay(join(dir, 'relay.sock'), bus);
  cleanup.push(() => new Promise((r) => relay.server.close(() => r())));
  return { dir, relay };
}

describe('hive up that loses its bus during start-up', () => {
  it('ends on SIGTERM, twice at once, promptly, and leaves nothing behind', async () => {
    const { dir, relay } = await lostBusSetUp();
    const instance = `lost${process.pid}`;
    const configFile = join(dir, 'hive.yaml');
    await writeFile(configFile, stringify({
      instance, bus: `unix:path=${join(dir, 'relay.sock')}`, state_dir: join(dir, 'state'), log_level: 'debug',
      networks: { console: { type: 'terminal' } }, plugins: [{ name: 'ping', use: 'ping' }],
    }));
    const env = { HIVE_RUNTIME_DIR: join(dir, 'run'), HIVE_LOG_FORMAT: 'json' };
    const hive = execa(HIVE_BIN, ['up', '--config', configFile], { env, stdin: 'pipe', reject: false, cleanup: true });
    cleanup.push(async () => { hive.kill('SIGKILL'); await hive; });
    await waitFor(() => relay.killed(), { timeout: 15_000, what: 'the supervisor asking for its name' });
    await sleep(200);
    const t0 = Date.now();
    hive.kill('SIGTERM');
    await sleep(50);
    if (hive.exitCode === null) hive.kill('SIGTERM');
    const r = await Promise.race([hive, sleep(4000).then(() => undefined)]);
    expect(r, 'hive up still running 4 s after two SIGTERMs').toBeDefined();
    expect(Date.now() - t0).toBeLessThan(4000);
    // Either the first signal's stop was done (0) or the second forced it (128 + 15).
    expect([0, 143]).toContain(r!.exitCode);
    expect(alive(hive.pid!)).toBe(false);
    expect(processesOf(instance)).toEqual([]);
    expect(existsSync(join(dir, 'run', `${instance}.json`))).toBe(false);
  });

  it('ends by itself, failed (exit 1), when nobody signals it', async () => {
    const { dir, relay } = await lostBusSetUp();
    const configFile = join(dir, 'hive.yaml');
    await writeFile(configFile, stringify({
      instance: `lost${process.pid}b`, bus: `unix:path=${join(dir, 'relay.sock')}`, state_dir: join(dir, 'state'),
      networks: { console: { type: 'terminal' } }, plugins: [{ name: 'ping', use: 'ping' }],
    }));
    const hive = execa(HIVE_BIN, ['up', '--config', configFile], { env: { HIVE_RUNTIME_DIR: join(dir, 'run'), HIVE_LOG_FORMAT: 'json' }, stdin: 'pipe', reject: false, cleanup: true });
    cleanup.push(async () => { hive.kill('SIGKILL'); await hive; });
    const r = await Promise.race([hive, sleep(20_000).then(() => undefined)]);
    expect(relay.killed()).toBe(true);
    expect(r, 'hive up still running 20 s after its bus died').toBeDefined();
    expect(r!.exitCode).toBe(1);
  });
});
