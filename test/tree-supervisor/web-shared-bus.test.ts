// hive web on a hive whose bus is not its own (`bus:` an address, as `session` is): the bus outlives
// the hive, so hive web must end when the supervisor's name loses its owner, not when the bus goes.
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { execa } from 'execa';
import { startPrivateBus, type PrivateBus } from '../../tree-supervisor/private-bus.js';
import { startHive, type TestHive } from '../helpers/hive.js';
import { DIST } from '../helpers/paths.js';
import { waitFor } from '../helpers/wait.js';

let bus: PrivateBus | undefined;
let hive: TestHive | undefined;
afterAll(async () => {
  await hive?.stop();
  await bus?.stop();
});

describe('hive web on a shared bus', () => {
  it('ends with exit 1 when the hive ends, though the bus stays', { timeout: 60_000 }, async () => {
    bus = await startPrivateBus();
    hive = await startHive({ bus: bus.address, networks: { console: { type: 'terminal', quiet_ms: 200 } }, plugins: [] });
    const web = execa('node', [join(DIST, 'tree-supervisor/cli-web.js'), '--config', hive.configFile, '--json'], { env: hive.env, reject: false, buffer: false });
    let out = '';
    let err = '';
    web.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    web.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    try {
      const { port, token } = JSON.parse(await waitFor(() => out.split('\n').find((l) => l.startsWith('{')), { timeout: 15_000, what: () => `hive web's address (stderr: ${err})` })) as { port: number; token: string };
      expect((await fetch(`http://127.0.0.1:${port}/api/tree`, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(200);
      const ended = Date.now();
      await hive.stop();
      const code = await Promise.race([web.then((r) => r.exitCode), new Promise<string>((r) => setTimeout(() => r('still running'), 10_000))]);
      expect(code).toBe(1);
      process.stdout.write(`hive web ended ${Date.now() - ended} ms after the hive was told to stop\n`);
      expect(err).toContain(`hive web: the hive '${hive.instance}' ended`);
      // The bus is still there: it was not what ended hive web.
      expect(() => process.kill(bus!.pid, 0)).not.toThrow();
    } finally {
      web.kill('SIGTERM');
    }
  });
});
