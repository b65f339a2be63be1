/**
 * A private dbus-daemon for one hive (or one test file): a config of the project's, a unix socket
 * in a folder only the user can open, and the limits raised as the stock session bus does —
 * a daemon with a custom config otherwise gets 128 pending replies per connection and 512 match
 * rules. Message size and per-connection queues are not the session bus's 1 GB but come from the
 * protocol's limits (protocol/limits.ts, docs/protocol.md#limits): the daemon refuses a larger
 * message itself, and a stopped node cannot make it queue more than that for it.
 * Never a TCP listener: dbus-next only offers ANONYMOUS auth over TCP.
 */
import { mkdtemp, mkdir, writeFile, chmod, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import which from './which.js';
import { LIMITS } from '../protocol/limits.js';

export interface PrivateBus {
  address: string;
  pid: number;
  dir: string;
  stop(): Promise<void>;
}

export class BusError extends Error {
  override name = 'BusError';
}

export function busConfig(socketPath: string): string {
  return `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=${socketPath}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
  <limit name="max_incoming_bytes">${LIMITS.busMaxQueueBytes}</limit>
  <limit name="max_outgoing_bytes">${LIMITS.busMaxQueueBytes}</limit>
  <limit name="max_message_size">${LIMITS.busMaxMessageBytes}</limit>
  <limit name="auth_timeout">240000</limit>
  <limit name="max_completed_connections">100000</limit>
  <limit name="max_incomplete_connections">10000</limit>
  <limit name="max_connections_per_user">100000</limit>
  <limit name="max_names_per_connection">50000</limit>
  <limit name="max_match_rules_per_connection">50000</limit>
  <limit name="max_replies_per_connection">50000</limit>
</busconfig>
`;
}

export async function startPrivateBus(opts: { dir?: string } = {}): Promise<PrivateBus> {
  const daemon = await which('dbus-daemon');
  if (!daemon) throw new BusError('dbus-daemon not found: run scripts/install-system-deps (or: sudo apt-get install -y dbus)');
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'hive-bus-')));
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o700);
  const socket = join(dir, 'bus.sock');
  const conf = join(dir, 'bus.conf');
  await writeFile(conf, busConfig(socket), { mode: 0o600 });
  // With setpriv (util-linux) the bus dies with its parent even on SIGKILL, and the nodes with it.
  const setpriv = await which('setpriv');
  const argv = [daemon, `--config-file=${conf}`, '--nofork', '--nopidfile', '--print-address=1'];
  const [file, ...args] = setpriv ? [setpriv, '--pdeathsig', 'KILL', ...argv] : argv;
  const child: ResultPromise = execa(file!, args, {
    stdin: 'ignore', stdout: 'pipe', stderr: 'pipe', reject: false, buffer: false, cleanup: true,
  });
  const address = await new Promise<string>((resolve, reject) => {
    let out = '', err = '';
    const timer = setTimeout(() => reject(new BusError(`dbus-daemon did not print its address within 10 s: ${err}`)), 10_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl !== -1) { clearTimeout(timer); resolve(out.slice(0, nl).trim()); }
    });
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('exit', (code: number | null) => { clearTimeout(timer); reject(new BusError(`dbus-daemon exited with ${code}: ${err}`)); });
  });
  return {
    address,
    pid: child.pid!,
    dir,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await child;
      }
      // The folder is the bus's own (its socket and config), whoever chose its path.
      await rm(dir, { recursive: true, force: true });
    },
  };
}
