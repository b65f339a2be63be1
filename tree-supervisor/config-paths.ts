/**
 * Where things are on disk: the state directory when the config names none (XDG), and every
 * relative path of the config resolved against the config file's directory.
 */
import { homedir, tmpdir, userInfo } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import type { NetworkConfig } from '../mouth/network-config.js';
import type { HiveConfig, ParsedConfig } from './config.js';

type Env = Record<string, string | undefined>;

/** Where state goes when the config names none: $XDG_STATE_HOME/hive/<instance>, else ~/.local/state/hive/<instance>. */
export function defaultStateDir(instance = 'default', env: Env = process.env): string {
  const xdg = env.XDG_STATE_HOME;
  if (xdg && isAbsolute(xdg)) return join(xdg, 'hive', instance);
  let home = env.HOME;
  if (!home) {
    try {
      home = homedir();
    } catch {
      home = undefined;
    }
  }
  if (home) return join(home, '.local', 'state', 'hive', instance);
  let user = 'user';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (some containers): a shared name is still better than failing
  }
  return join(tmpdir(), `hive-${user}`, instance);
}

export function resolvePaths(data: ParsedConfig, baseDir: string, env: Env): HiveConfig {
  const base = resolve(baseDir);
  const networks: Record<string, NetworkConfig> = {};
  for (const [name, net] of Object.entries(data.networks)) {
    networks[name] =
      net.type === 'irc'
        ? {
            ...net,
            ...(net.ca_file && { ca_file: resolve(base, net.ca_file) }),
            ...(net.client_cert && { client_cert: resolve(base, net.client_cert) }),
            ...(net.client_key && { client_key: resolve(base, net.client_key) }),
          }
        : net.type === 'xmpp' && net.ca_file
          ? { ...net, ca_file: resolve(base, net.ca_file) }
          : net;
  }
  return {
    ...data,
    state_dir: data.state_dir ? resolve(base, data.state_dir) : defaultStateDir(data.instance, env),
    networks,
    plugins: data.plugins.map((p) => {
      const q = p.exec ? { ...p, cwd: resolve(base, p.cwd ?? '.') } : p;
      return typeof q.sandbox === 'object' ? { ...q, sandbox: { ...q.sandbox, read_only: q.sandbox.read_only.map((d) => resolve(base, d)) } } : q;
    }),
  };
}
