// The operator's control plane (issue 16): Supervisor1's methods that change the hive are refused
// (NotAuthorized) to a connection on the bus itself that did not Authenticate with the runtime
// file's credential — Load's command does not run — and work once it did; Tree stays readable;
// Vouch answers for a node's own credential only; the `hive` command authenticates by itself.
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { startHive, type TestHive } from '../helpers/hive.js';
import { ROOT } from '../helpers/paths.js';
import { waitFor } from '../helpers/wait.js';
import { callWithDeadline, connectBus, type MessageBus } from '../../protocol/sdk/bus.js';
import { normaliseInterface } from '../../protocol/introspection.js';
import { SUPERVISOR_INTERFACE } from '../../protocol/names.js';
import { nodeCredential } from '../../tree-supervisor/credentials.js';

const TERMINAL = { console: { type: 'terminal', quiet_ms: 200 } };
let hive: TestHive | undefined;
const buses: MessageBus[] = [];
afterEach(async () => {
  for (const b of buses.splice(0)) b.disconnect();
  await hive?.stop();
  hive = undefined;
});

async function runtime(h: TestHive): Promise<{ bus_address: string; token: string; supervisor: string }> {
  return JSON.parse(await readFile(join(h.dir, 'run', `${h.instance}.json`), 'utf8')) as { bus_address: string; token: string; supervisor: string };
}

describe('the control plane', () => {
  it('refuses every changing method to a connection without the operator\'s credential, and allows them with it', { timeout: 120_000 }, async () => {
    hive = await startHive({ networks: TERMINAL, plugins: [{ name: 'ping', use: 'ping' }, { name: 'echo', use: 'echo' }] });
    const info = await runtime(hive);
    const stranger = await connectBus(info.bus_address);
    buses.push(stranger);
    const call = (member: string, signature = '', body: unknown[] = []) =>
      callWithDeadline(stranger, { destination: info.supervisor, path: '/org/hive/Supervisor', interface: SUPERVISOR_INTERFACE, member, signature, body }, 20_000);
    const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: { code?: string }) => e.code);
    const marker = join(hive.dir, 'loaded-command-ran');

    const evil = JSON.stringify({ name: 'evil', exec: ['/bin/sh', '-c', `touch ${marker}; sleep 60`] });
    expect(await code(call('Load', 's', [evil]))).toBe('NotAuthorized');
    for (const [member, node] of [['Stop', 'ping'], ['Restart', 'ping'], ['Start', 'ping'], ['Unload', 'echo'], ['RemoteAccess', 'ping']] as const) {
      expect(await code(call(member, 's', [node])), member).toBe('NotAuthorized');
    }
    expect(await code(call('Shutdown'))).toBe('NotAuthorized');
    // A node's credential is not the operator's; nor is a guess.
    expect(await code(call('Authenticate', 's', [nodeCredential(info.token, 'ping')]))).toBe('NotAuthorized');
    expect(await code(call('Authenticate', 's', ['x'.repeat(200)]))).toBe('NotAuthorized');
    // Nothing changed: the command never ran, the nodes are where they were, the hive answers.
    await new Promise((r) => setTimeout(r, 500));
    expect(existsSync(marker)).toBe(false);
    const nodes = await hive.tree();
    expect(nodes.map((n) => `${n.name}:${n.state}`).sort()).toEqual(['echo:running', 'mouth:running', 'ping:running']);
    // Tree and the properties stay readable to anyone on the bus.
    expect(JSON.parse((await call('Tree')).body[0] as string).nodes).toHaveLength(3);
    const counters = (await callWithDeadline(stranger, { destination: info.supervisor, path: '/org/hive/Supervisor', interface: 'org.freedesktop.DBus.Properties', member: 'Get', signature: 'ss', body: [SUPERVISOR_INTERFACE, 'Counters'] }, 5000)).body[0] as { value: Record<string, bigint> };
    expect(Number(counters.value.not_authorized)).toBeGreaterThanOrEqual(9);

    // With the runtime file's credential, the same connection may.
    await call('Authenticate', 's', [info.token]);
    await call('Stop', 's', ['ping']);
    expect((await hive.node('ping')).state).toBe('stopped');
    await call('Start', 's', ['ping']);
    await waitFor(async () => (await hive!.node('ping')).state === 'running', { what: 'ping running again' });
    expect(await code(call('Unload', 's', ['echo']))).toBe('ok');
    expect((await hive.tree()).map((n) => n.name).sort()).toEqual(['mouth', 'ping']);
    // Another connection is not the operator because this one is.
    const other = await connectBus(info.bus_address);
    buses.push(other);
    expect(await code(callWithDeadline(other, { destination: info.supervisor, path: '/org/hive/Supervisor', interface: SUPERVISOR_INTERFACE, member: 'Stop', signature: 's', body: ['ping'] }, 5000))).toBe('NotAuthorized');
    await call('Shutdown');
    expect(await hive.exited).toBe(0);
  });

  it('vouches for a node\'s own credential only, and counts the refusals', async () => {
    hive = await startHive({ networks: TERMINAL, plugins: [{ name: 'ping', use: 'ping' }] });
    const info = await runtime(hive);
    const bus = await connectBus(info.bus_address);
    buses.push(bus);
    const vouch = async (name: string, credential: string) =>
      (await callWithDeadline(bus, { destination: info.supervisor, path: '/org/hive/Supervisor', interface: SUPERVISOR_INTERFACE, member: 'Vouch', signature: 'ss', body: [name, credential] }, 5000)).body[0];
    expect(await vouch('ping', nodeCredential(info.token, 'ping'))).toBe(true);
    expect(await vouch('mouth', nodeCredential(info.token, 'ping'))).toBe(false);
    expect(await vouch('ping', info.token)).toBe(false);
    expect(await vouch('nosuch', nodeCredential(info.token, 'nosuch'))).toBe(false);
    expect(await vouch('ping', 'y'.repeat(10_000))).toBe(false);
    await hive.waitForLog((l) => l.msg === 'vouch refused: not that node\'s credential');
  });

  it('the hive command still works (it authenticates by itself), and the interface is exactly protocol/org.hive.Supervisor1.xml', { timeout: 120_000 }, async () => {
    hive = await startHive({ networks: TERMINAL, plugins: [{ name: 'ping', use: 'ping' }] });
    for (const args of [['stop', 'ping'], ['start', 'ping'], ['restart', 'ping'], ['load', '--name', 'echo', '--use', 'echo'], ['unload', 'echo']]) {
      const r = await hive.cli(...args, '--config', hive.configFile);
      expect(r.exitCode, `hive ${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
    const info = await runtime(hive);
    const { stdout } = await execa('gdbus', ['introspect', '--address', info.bus_address, '--dest', info.supervisor, '--object-path', '/org/hive/Supervisor', '--xml']);
    const committed = await readFile(join(ROOT, 'protocol/org.hive.Supervisor1.xml'), 'utf8');
    expect(normaliseInterface(stdout, SUPERVISOR_INTERFACE)).toBe(normaliseInterface(committed, SUPERVISOR_INTERFACE));
    const down = await hive.cli('down', '--config', hive.configFile);
    expect(down.exitCode, down.stderr).toBe(0);
  });
});
