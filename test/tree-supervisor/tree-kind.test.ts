// `hive tree`'s KIND is one thing (issue 15): the node's kind once known, kept while it is down;
// how it is run is the separate `run` field. It used to say responder while running, plugin when stopped.
import { afterEach, describe, expect, it } from 'vitest';
import { startHive, type TestHive } from '../helpers/hive.js';
import { waitFor } from '../helpers/wait.js';

let hive: TestHive | undefined;
afterEach(async () => {
  await hive?.stop();
  hive = undefined;
});

describe('hive tree KIND', () => {
  it('a node that ran keeps its kind when stopped; run says how it is run; a program never run shows how it is run', async () => {
    hive = await startHive({ networks: { console: { type: 'terminal', quiet_ms: 200 } }, plugins: [{ name: 'echo', use: 'echo' }, { name: 'ghost', exec: ['/nonexistent/hive-program'] }] });
    const kindOf = async (name: string) => (await hive!.node(name)) as unknown as { kind: string; run: string; state: string };
    await waitFor(async () => (await kindOf('echo')).kind === 'responder', { what: 'echo known as a responder' });
    expect(await kindOf('echo')).toMatchObject({ kind: 'responder', run: 'plugin', state: 'running' });
    expect((await hive.cli('stop', 'echo', '--config', hive.configFile)).exitCode).toBe(0);
    expect(await kindOf('echo')).toMatchObject({ kind: 'responder', run: 'plugin', state: 'stopped' });
    expect(await kindOf('ghost')).toMatchObject({ kind: 'exec', run: 'exec', state: 'failed' });
    expect(await kindOf('mouth')).toMatchObject({ kind: 'mouth', run: 'mouth' });
    const text = (await hive.cli('tree', '--config', hive.configFile)).stdout;
    expect(text).toMatch(/^ {2}echo\s+responder\s+stopped/m);
    expect(text).toMatch(/^ {2}ghost\s+exec\s+failed/m);
  });
});
