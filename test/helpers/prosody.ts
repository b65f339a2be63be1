// A throw-away Prosody (Debian's, 0.12) for tests: on 127.0.0.1, in its own temp dir, on free
// ports, with a MUC component `conference.localhost` and users registered with prosodyctl. Like
// test/helpers/ircd.ts: start, kill (an outage: dir and ports kept), start again, stop for good.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, chmodSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { findProgram, freePorts } from './ircd.js';

export const XMPP_DOMAIN = 'localhost';
export const MUC_DOMAIN = 'conference.localhost';

export interface Prosody {
  host: '127.0.0.1';
  /** Client port (plain, STARTTLS offered when tls). */
  port: number;
  /** Direct TLS client port (XEP-0368), only with tls. */
  tlsPort?: number;
  /** PEM of the throw-away CA that signed the server certificate (only with tls). */
  caFile?: string;
  domain: typeof XMPP_DOMAIN;
  muc: typeof MUC_DOMAIN;
  dir: string;
  /** Registers a user (localpart) on `localhost`; works while stopped too. */
  register(user: string, password: string): Promise<void>;
  /** Stops the server (SIGKILL: nothing saved, sessions gone), keeping dir, data and ports. */
  kill(): Promise<void>;
  /** Starts again after kill(), on the same ports; resolves once it accepts clients. */
  start(): Promise<void>;
  restart(): Promise<void>;
  /** Stops for good and removes dir (kept if HIVE_KEEP_IRCD_DIRS=1). Idempotent. */
  stop(): Promise<void>;
  logTail(lines?: number): string;
}

export interface ProsodyOptions {
  tls?: boolean;
  /** Room history sent to a joining occupant (Prosody's default is 20). */
  historyLength?: number;
  startTimeoutMs?: number;
}

const HOST = '127.0.0.1' as const;
const INSTALL = 'prosody not found: run scripts/install-system-deps (or `apt-get install -y prosody`)';

function prosodyBin(name: 'prosody' | 'prosodyctl'): string {
  try {
    return findProgram(name, 'prosody');
  } catch {
    throw new Error(INSTALL);
  }
}

const live = new Set<ChildProcess>();
let hooked = false;
function exitHooks(): void {
  if (hooked) return;
  hooked = true;
  const killAll = () => { for (const c of live) c.kill('SIGKILL'); };
  process.once('exit', killAll);
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.once(sig, () => {
      killAll();
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    });
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: HOST, port });
    const done = (ok: boolean) => { s.destroy(); resolve(ok); };
    s.setTimeout(500, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

async function makeTls(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const openssl = findProgram('openssl', 'openssl');
  const d = path.join(dir, 'tls');
  mkdirSync(d, { recursive: true, mode: 0o755 });
  const run = (args: string[]) => execa(openssl, args, { cwd: d });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run(['req', '-x509', '-new', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '3650',
    '-subj', '/CN=XMPP Test CA', '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-addext', 'subjectKeyIdentifier=hash']);
  await run(['req', '-new', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
  writeFileSync(path.join(d, 'server.ext'), [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    `subjectAltName=DNS:${XMPP_DOMAIN},DNS:${MUC_DOMAIN},IP:127.0.0.1`,
    'subjectKeyIdentifier=hash',
    'authorityKeyIdentifier=keyid',
  ].join('\n') + '\n');
  await run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', 'server.pem', '-days', '3650', '-extfile', 'server.ext']);
  return { ca: path.join(d, 'ca.pem'), cert: path.join(d, 'server.pem'), key: path.join(d, 'server.key') };
}

const lua = (s: string) => JSON.stringify(s);

export async function startProsody(opts: ProsodyOptions = {}): Promise<Prosody> {
  const bin = prosodyBin('prosody');
  const ctl = prosodyBin('prosodyctl');
  const timeout = opts.startTimeoutMs ?? 20_000;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hive-prosody-'));
  chmodSync(dir, 0o755);
  const data = path.join(dir, 'data');
  mkdirSync(data, { mode: 0o755 });
  const [port, tlsPort] = (await freePorts(2)) as [number, number];
  const logFile = path.join(dir, 'prosody.log');
  const tls = opts.tls ? await makeTls(dir) : undefined;
  const config = path.join(dir, 'prosody.cfg.lua');
  writeFileSync(config, `-- Generated by test/helpers/prosody.ts. Loopback only.
run_as_root = true
daemonize = false
pidfile = ${lua(path.join(dir, 'prosody.pid'))}
data_path = ${lua(data)}
plugin_paths = {}
log = { { levels = { min = "debug" }, to = "file", filename = ${lua(logFile)} } }
interfaces = { "127.0.0.1" }
c2s_ports = { ${port} }
${tls ? `c2s_direct_tls_ports = { ${tlsPort} }\nssl = { certificate = ${lua(tls.cert)}, key = ${lua(tls.key)} }` : ''}
s2s_ports = {}
component_ports = {}
http_ports = {}
https_ports = {}
modules_enabled = { "roster", "saslauth", ${tls ? '"tls", ' : ''}"disco", "ping", "smacks", "mam", "posix" }
${tls ? '' : '-- No certificate: no STARTTLS offered (Prosody would otherwise try the system\'s localhost one).\nssl = {}'}
modules_disabled = { "s2s" }
authentication = "internal_hashed"
storage = "internal"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
smacks_hibernation_time = 60
archive_expires_after = "never"
-- Tests flood on purpose; the server must not be the one that throttles.
limits = {}
c2s_stanza_size_limit = 1048576

VirtualHost ${lua(XMPP_DOMAIN)}
Component ${lua(MUC_DOMAIN)} "muc"
  modules_enabled = { "muc_mam" }
  muc_room_locking = false
  muc_room_default_public_jids = true
  muc_room_default_history_length = ${opts.historyLength ?? 20}
  muc_log_by_default = true
  restrict_room_creation = false
`);
  let child: ChildProcess | undefined;
  let exitInfo: string | undefined;
  let exited: Promise<void> = Promise.resolve();
  let stopped = false;
  const logTail = (n = 40) => {
    try {
      return `--- tail of ${logFile} ---\n` + readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-n).join('\n');
    } catch {
      return '(no log)';
    }
  };
  const p: Prosody = {
    host: HOST, port, dir, domain: XMPP_DOMAIN, muc: MUC_DOMAIN,
    ...(tls ? { tlsPort, caFile: tls.ca } : {}),
    logTail,
    async register(user, password) {
      await execa(ctl, ['--config', config, 'register', user, XMPP_DOMAIN, password], { cwd: dir, timeout: 20_000 });
    },
    async kill() {
      const c = child;
      child = undefined;
      if (!c || exitInfo !== undefined) return;
      c.kill('SIGKILL');
      await exited;
    },
    async start() {
      if (stopped) throw new Error(`prosody in ${dir} was stop()ped; start a new one`);
      if (child) throw new Error(`prosody in ${dir} is already running`);
      exitHooks();
      const fd = openSync(path.join(dir, 'prosody.out'), 'a');
      const c = spawn(bin, ['--config', config, '-F'], { cwd: dir, stdio: ['ignore', fd, fd] });
      closeSync(fd);
      live.add(c);
      child = c;
      exitInfo = undefined;
      exited = new Promise((resolve) => {
        const done = (info: string) => { live.delete(c); exitInfo ??= info; resolve(); };
        c.once('exit', (code, sig) => done(sig ? `signal ${sig}` : `code ${code}`));
        c.once('error', (e) => done(`spawn error: ${e.message}`));
      });
      const deadline = Date.now() + timeout;
      for (;;) {
        if (exitInfo !== undefined) {
          const out = existsSync(path.join(dir, 'prosody.out')) ? readFileSync(path.join(dir, 'prosody.out'), 'utf8') : '';
          child = undefined;
          throw new Error(`prosody exited (${exitInfo}) before it was ready\n${out}\n${logTail()}\n(server dir kept: ${dir})`);
        }
        if ((await accepts(port)) && (!tls || (await accepts(tlsPort)))) return;
        if (Date.now() > deadline) throw new Error(`prosody not ready within ${timeout} ms\n${logTail()}\n(server dir kept: ${dir})`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async restart() {
      await p.kill();
      await p.start();
    },
    async stop() {
      if (stopped) return;
      await p.kill();
      stopped = true;
      if (process.env.HIVE_KEEP_IRCD_DIRS !== '1') rmSync(dir, { recursive: true, force: true });
    },
  };
  await p.start();
  return p;
}
