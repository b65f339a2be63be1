import { describe, expect, test } from 'vitest';
import { CliError, loadSpec, renderTree, type TreeNodeInfo } from './cli-client.js';
import { EXIT_CODES } from './exit-codes.js';

describe('loadSpec', () => {
  test('a --plugin-config that is not JSON is refused naming that flag (not --config, which finds the hive)', async () => {
    const err = await loadSpec({ name: 'x', use: 'echo', config: '{times: 2' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).exitCode).toBe(EXIT_CODES.usage);
    expect((err as CliError).message).toBe('hive load: --plugin-config must be JSON; got "{times: 2"');
  });

  test('flags become the YAML spec the supervisor checks', async () => {
    expect(await loadSpec({ name: 'x', use: 'echo', parent: 'auth', config: '{"times": 2}' })).toBe('name: x\nuse: echo\nparent: auth\nconfig:\n  times: 2\n');
  });
});

describe('renderTree', () => {
  const node = (o: Partial<TreeNodeInfo>): TreeNodeInfo => ({
    name: 'x', kind: 'exec', run: 'exec', pid: null, bus_name: 'b', unique_name: null, parent: 'mouth', configured_parent: 'mouth',
    state: 'stopped', restarts: 0, uptime_ms: 0, counters: {}, ...o,
  });

  test('KIND is the same for a node running and stopped: what the tree view says', () => {
    const text = renderTree({ nodes: [
      node({ name: 'mouth', kind: 'mouth', run: 'mouth', parent: null, configured_parent: null, state: 'running', pid: 1 }),
      node({ name: 'echo', kind: 'responder', run: 'plugin', state: 'stopped' }),
      node({ name: 'relay', kind: 'filter', run: 'exec', state: 'running', pid: 2 }),
      node({ name: 'ghost', kind: 'exec', run: 'exec', state: 'failed' }),
    ] });
    expect(text).toMatch(/^ {2}echo\s+responder\s+stopped/m);
    expect(text).toMatch(/^ {2}relay\s+filter\s+running/m);
    expect(text).toMatch(/^ {2}ghost\s+exec\s+failed/m);
  });
});
