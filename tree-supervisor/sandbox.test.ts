import { describe, expect, it } from 'vitest';
import { sandboxArgs, sandboxedProcess, sandboxEnv } from './sandbox.js';

describe('sandboxedProcess', () => {
  // bwrap (10) → its init (11) → the node's command (12) → the command's own child (13: a shell plugin's gdbus).
  const tree: Record<number, number[]> = { 10: [11], 11: [12], 12: [13], 13: [] };
  const children = (pid: number) => tree[pid] ?? [];

  it('goes exactly two levels down: bwrap → init → the command, never the command\'s child', () => {
    expect(sandboxedProcess(10, children)).toBe(12);
  });

  it('is undefined while the command is not there', () => {
    expect(sandboxedProcess(10, (pid) => (pid === 10 ? [11] : []))).toBeUndefined();
    expect(sandboxedProcess(10, () => [])).toBeUndefined();
  });
});

describe('sandboxEnv', () => {
  it('keeps PATH, LANG, PYTHONPATH, the bus address and HIVE_*, with HOME an empty folder; nothing else', () => {
    const env = sandboxEnv({
      PATH: '/usr/bin', LANG: 'C.UTF-8', HOME: '/home/op', SSH_AUTH_SOCK: '/run/user/1000/ssh', XDG_RUNTIME_DIR: '/run/user/1000',
      IRC_PASSWORD: 'secret', DBUS_SESSION_BUS_ADDRESS: 'unix:path=/p', HIVE_NODE: 'jail', HIVE_TOKEN: 't', PYTHONPATH: '/opt/hive/protocol/sdk/python',
    });
    expect(env).toEqual({ PATH: '/usr/bin', LANG: 'C.UTF-8', HOME: '/tmp', DBUS_SESSION_BUS_ADDRESS: 'unix:path=/p', HIVE_NODE: 'jail', HIVE_TOKEN: 't', PYTHONPATH: '/opt/hive/protocol/sdk/python' });
  });
});

describe('sandboxArgs: files to hide', () => {
  const base = { stateDir: '/s/jail', hide: ['/home/op', '/run/user/1000'], readOnly: ['/home/op/bot'], writable: ['/run/user/1000/hive/x.nodes/jail'] };
  const masks = (args: string[]) => args.flatMap((a, i) => (a === '--ro-bind' && args[i + 1] === '/dev/null' ? [args[i + 2]] : []));

  it('masks a file where it is visible (a shown folder, or outside every hidden one), after every folder', () => {
    const args = sandboxArgs({ ...base, hideFiles: ['/home/op/bot/hive.yaml', '/etc/hive-token'] });
    expect(masks(args)).toEqual(['/home/op/bot/hive.yaml', '/etc/hive-token']);
    expect(args.indexOf('/dev/null')).toBeGreaterThan(args.lastIndexOf('/home/op/bot'));
  });

  it('leaves a file that is already hidden alone (a bind into a tmpfs would fail)', () => {
    expect(masks(sandboxArgs({ ...base, hideFiles: ['/home/op/hive.yaml', '/run/user/1000/token'] }))).toEqual([]);
  });
});
