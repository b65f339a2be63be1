// Throw-away IRC servers for tests: ngIRCd, or InspIRCd 3 (+ Atheme services),
// on 127.0.0.1, each in its own temp dir, on free ports. Configs and pitfalls
// follow /work/shared/reference/ircd/ (ngircd-up, inspircd-up, atheme-up).
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, chmodSync, chownSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { capLs, connectClient } from './irc-client.js';

export interface Ircd {
  kind: 'ngircd' | 'inspircd';
  host: '127.0.0.1';
  port: number;
  tlsPort?: number;
  /** PEM of the throw-away CA that signed the server certificate (only with tls). */
  caFile?: string;
  dir: string;
  /** The server's own name (prefix of numerics), "irc.test". */
  serverName: string;
  oper: { name: string; password: string };
  /** Stop the server processes (services too) but keep dir and ports: an outage. */
  kill(): Promise<void>;
  /** Start again after kill(), on the same ports; resolves once it accepts clients. */
  start(): Promise<void>;
  /** kill() then start(). */
  restart(): Promise<void>;
  /** Stop for good and remove dir (kept if HIVE_KEEP_IRCD_DIRS=1). Idempotent. */
  stop(): Promise<void>;
  /** Last lines of the server's (and services') logs, for failure messages. */
  logTail(lines?: number): string;
}

export interface NgircdOptions {
  tls?: boolean;
  /** Server password: clients must send it with PASS before registering. */
  password?: string;
  /** Deadline for the port to accept connections. Default 20000 ms. */
  startTimeoutMs?: number;
}

export interface InspircdOptions {
  tls?: boolean;
  /** Registered Atheme account; starts Atheme services (SASL works). */
  account?: { name: string; password: string };
  /** More accounts; also starts services. */
  accounts?: { name: string; password: string }[];
  /** Start Atheme even without accounts. */
  services?: boolean;
  /** Ticker interval, see README "trial-read stall". 0 = off. Default 5. */
  tickerMs?: number;
  /** Deadline per component (ircd port, services link). Default 20000 ms. */
  startTimeoutMs?: number;
}

const HOST = '127.0.0.1' as const;
const SERVER_NAME = 'irc.test';
const SERVICES_NAME = 'services.test';
const OPER = { name: 'admin', password: 'admin' };
const INSTALL_HINT = 'run `sudo apt-get install -y %s` (or scripts/install-system-deps)';

// ---------------------------------------------------------------- programs

/** Absolute path of `name` (PATH plus the sbin dirs non-root PATHs lack), or an Error naming the package. */
export function findProgram(name: string, debPackage: string): string {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin', '/sbin', '/usr/bin'];
  for (const d of dirs.filter(Boolean)) {
    const p = path.join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  throw new Error(`${name} not found: ${INSTALL_HINT.replace('%s', debPackage)}`);
}

// ---------------------------------------------------------------- processes

interface Proc {
  name: string;
  child: ChildProcess;
  exited: Promise<string>; // resolves with "code N" / "signal X"
  exitInfo?: string;
}

// Safety nets, for test workers that end without stop(): kill our servers on
// exit and on SIGTERM/SIGINT/SIGHUP (vitest stops its fork workers with
// SIGTERM, which skips 'exit' handlers), and spawn them under
// `setpriv --pdeathsig KILL` so even a SIGKILLed worker takes them along
// (ngIRCd as root loses that when it drops to "nobody": the kernel clears
// the death signal on a uid change).
const liveChildren = new Set<ChildProcess>();
let hooksInstalled = false;
function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  const killAll = () => {
    for (const c of liveChildren) c.kill('SIGKILL');
  };
  process.once('exit', killAll);
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.once(sig, () => {
      killAll();
      // Our listener replaced the default action; re-raise it unless someone else handles the signal.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    });
  }
}

let setpriv: string | null | undefined;
function deathSigPrefix(): string[] {
  if (setpriv === undefined) {
    try {
      setpriv = findProgram('setpriv', 'util-linux');
    } catch {
      setpriv = null; // optional: only the last-resort cleanup is lost
    }
  }
  return setpriv ? [setpriv, '--pdeathsig', 'KILL', '--'] : [];
}

function spawnLogged(name: string, cmd: string, args: string[], cwd: string, logFile: string): Proc {
  installExitHooks();
  const fd = openSync(logFile, 'a');
  const [exe, ...argv] = [...deathSigPrefix(), cmd, ...args]; // setpriv execs cmd: same pid
  const child = spawn(exe!, argv, { cwd, stdio: ['ignore', fd, fd] });
  closeSync(fd); // the child has its own copy
  liveChildren.add(child);
  const proc: Proc = { name, child, exited: Promise.resolve('') };
  proc.exited = new Promise((resolve) => {
    const done = (info: string) => {
      liveChildren.delete(child);
      proc.exitInfo ??= info;
      resolve(proc.exitInfo);
    };
    child.once('exit', (code, sig) => done(sig ? `signal ${sig}` : `code ${code}`));
    child.once('error', (e) => done(`spawn error: ${e.message}`));
  });
  return proc;
}

async function stopProc(p: Proc, signal: NodeJS.Signals, graceMs = 5_000): Promise<void> {
  if (p.exitInfo !== undefined) return;
  p.child.kill(signal);
  const t = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
  await p.exited;
  clearTimeout(t);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function tailFile(file: string, n: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n).join('\n');
  } catch {
    return '(no log)';
  }
}

// ---------------------------------------------------------------- ports

/** n distinct free TCP ports on 127.0.0.1 (all bound at once so they differ; tiny race until the server binds). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<net.Server>((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, HOST, () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

function tryConnect(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: HOST, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** Poll `ready` until true; fail early if a process dies; the Error carries the log tail. */
async function waitUntil(what: string, ready: () => Promise<boolean>, procs: Proc[], timeoutMs: number, logTail: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const dead = procs.find((p) => p.exitInfo !== undefined);
    if (dead) throw new Error(`${what}: ${dead.name} exited (${dead.exitInfo}) before it was ready\n${logTail()}`);
    if (await ready()) return;
    if (Date.now() > deadline) throw new Error(`${what}: not ready within ${timeoutMs} ms\n${logTail()}`);
    await sleep(25);
  }
}

// ---------------------------------------------------------------- TLS

/** Throw-away CA + leaf for localhost / IP 127.0.0.1 (EC P-256: ~20 ms). Returns file paths. */
async function makeTls(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const openssl = findProgram('openssl', 'openssl');
  const d = path.join(dir, 'tls');
  mkdirSync(d, { recursive: true, mode: 0o755 });
  const run = (args: string[]) => execa(openssl, args, { cwd: d });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run(['req', '-x509', '-new', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '3650',
    '-subj', '/CN=IRC Test CA', '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-addext', 'subjectKeyIdentifier=hash']);
  await run(['req', '-new', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
  writeFileSync(path.join(d, 'server.ext'), [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
    'subjectKeyIdentifier=hash',
    'authorityKeyIdentifier=keyid',
  ].join('\n') + '\n');
  await run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', 'server.pem', '-days', '3650', '-extfile', 'server.ext']);
  chmodSync(path.join(d, 'ca.key'), 0o600);
  chmodSync(path.join(d, 'server.key'), 0o600);
  return { ca: path.join(d, 'ca.pem'), cert: path.join(d, 'server.pem'), key: path.join(d, 'server.key') };
}

// ---------------------------------------------------------------- lifecycle

/** One process of a "network": how to start it (spawn + wait until ready) and how to stop it. */
interface Component {
  start(): Promise<Proc>;
  signal: NodeJS.Signals;
}

function makeTempDir(kind: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `hive-${kind}-`));
  // mkdtemp gives 0700; ngIRCd running as root drops to "nobody", which must still reach its files.
  chmodSync(dir, 0o755);
  mkdirSync(path.join(dir, 'logs'), { mode: 0o755 });
  return dir;
}

function makeIrcd(base: Omit<Ircd, 'kill' | 'start' | 'restart' | 'stop' | 'logTail'>, components: Component[], logs: string[]): Ircd {
  let running: { proc: Proc; signal: NodeJS.Signals }[] = [];
  let stopped = false;
  const ircd: Ircd = {
    ...base,
    logTail: (n = 30) => logs.filter(existsSync).map((f) => `--- tail of ${f} ---\n${tailFile(f, n)}`).join('\n'),
    async kill() {
      // Reverse order: services before the ircd, so they don't log a link loss first.
      const procs = running.reverse();
      running = [];
      for (const { proc, signal } of procs) await stopProc(proc, signal);
    },
    async start() {
      if (stopped) throw new Error(`${base.kind} in ${base.dir} was stop()ped; start a new one`);
      if (running.length) throw new Error(`${base.kind} in ${base.dir} is already running`);
      try {
        for (const c of components) running.push({ proc: await c.start(), signal: c.signal });
      } catch (e) {
        await ircd.kill();
        throw e;
      }
    },
    async restart() {
      await ircd.kill();
      await ircd.start();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await ircd.kill();
      if (process.env.HIVE_KEEP_IRCD_DIRS !== '1') rmSync(base.dir, { recursive: true, force: true });
    },
  };
  return ircd;
}

async function startOrCleanUp(ircd: Ircd): Promise<Ircd> {
  try {
    await ircd.start();
    return ircd;
  } catch (e) {
    // Keep the dir: the error names it and the logs there explain the failure.
    (e as Error).message += `\n(server dir kept: ${ircd.dir})`;
    throw e;
  }
}

// ---------------------------------------------------------------- ngIRCd

export async function startNgircd(opts: NgircdOptions = {}): Promise<Ircd> {
  const bin = findProgram('ngircd', 'ngircd');
  const timeout = opts.startTimeoutMs ?? 20_000;
  const dir = makeTempDir('ngircd');
  const [port, tlsPort] = await freePorts(2) as [number, number];
  const log = path.join(dir, 'logs', 'ngircd.out');
  const isRoot = process.getuid?.() === 0;

  let ssl = '';
  let caFile: string | undefined;
  if (opts.tls) {
    const t = await makeTls(dir);
    caFile = t.ca;
    // ngIRCd (GnuTLS) generates DH params at start-up without a DHFile (slow); ffdhe2048 is a constant.
    const dh = path.join(dir, 'tls', 'dhparams.pem');
    await execa(findProgram('openssl', 'openssl'), ['genpkey', '-genparam', '-algorithm', 'DH', '-pkeyopt', 'group:ffdhe2048', '-out', dh]);
    // As root ngIRCd drops to nobody; TLS sessions are set up after that, so the key must stay readable.
    if (isRoot) {
      chownSync(t.key, 0, nogroupGid());
      chmodSync(t.key, 0o640);
    }
    ssl = `[SSL]\n\tCertFile = ${t.cert}\n\tKeyFile = ${t.key}\n\tDHFile = ${dh}\n\tPorts = ${tlsPort}\n`;
  }
  writeFileSync(path.join(dir, 'motd.txt'), `Welcome to the ${SERVER_NAME} test server (ngIRCd).\n`);
  writeFileSync(path.join(dir, 'ngircd.conf'), `# Generated by test/helpers/ircd.ts. Loopback only.
[Global]
\tName = ${SERVER_NAME}
\tInfo = Test IRC server
\tNetwork = TestNet
\tAdminInfo1 = Test server
\tAdminInfo2 = Loopback only
\tAdminEMail = admin@example.invalid
\tListen = ${HOST}
\tPorts = ${port}
\tMotdFile = ${dir}/motd.txt
${opts.password ? `\tPassword = ${opts.password}\n` : ''}${isRoot ? '\tServerUID = nobody\n\tServerGID = nogroup\n' : ''}
[Limits]
\tMaxConnections = 0
\tMaxConnectionsIP = 0
\tMaxJoins = 0
\t# default 9 refuses longer nicks with 432
\tMaxNickLength = 30
\tMaxListSize = 100000
\t# 0 = no per-command penalty ("fakelag", ~1 line/s after a burst)
\tMaxPenaltyTime = 0
\tPingTimeout = 120
\tPongTimeout = 20
\tIdleTimeout = 0

[Options]
\tDNS = no
\tIdent = no
\tPAM = no
\tConnectIPv6 = no
\tOperCanUseMode = yes
\tRequireAuthPing = no
\tScrubCTCP = no

${ssl}
[Operator]
\tName = ${OPER.name}
\tPassword = ${OPER.password}
`);

  const logs = [log];
  const ircd: Ircd = makeIrcd(
    { kind: 'ngircd', host: HOST, port, tlsPort: opts.tls ? tlsPort : undefined, caFile, dir, serverName: SERVER_NAME, oper: OPER },
    [{
      signal: 'SIGTERM',
      async start() {
        // -n: foreground, log to stdout/stderr (our log file).
        const p = spawnLogged('ngircd', bin, ['-n', '-f', path.join(dir, 'ngircd.conf')], dir, log);
        try {
          await waitUntil(`ngircd on ${HOST}:${port}`, () => tryConnect(port, 1_000), [p], timeout, () => ircd.logTail());
        } catch (e) {
          await stopProc(p, 'SIGKILL');
          throw e;
        }
        return p;
      },
    }],
    logs,
  );
  return startOrCleanUp(ircd);
}

function nogroupGid(): number {
  const line = readFileSync('/etc/group', 'utf8').split('\n').find((l) => l.startsWith('nogroup:'));
  return line ? Number(line.split(':')[2]) : 65534;
}

// ---------------------------------------------------------------- InspIRCd + Atheme

export async function startInspircd(opts: InspircdOptions = {}): Promise<Ircd> {
  const bin = findProgram('inspircd', 'inspircd');
  const accounts = [...(opts.account ? [opts.account] : []), ...(opts.accounts ?? [])];
  const services = opts.services || accounts.length > 0;
  const atheme = services ? findProgram('atheme-services', 'atheme-services') : '';
  for (const a of accounts) {
    if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(a.name)) throw new Error(`account name '${a.name}': use letters, digits, _ and - (nick-safe)`);
    if (!a.password || /\s/.test(a.password)) throw new Error(`password for '${a.name}' must be non-empty without whitespace`);
  }
  const timeout = opts.startTimeoutMs ?? 20_000;
  const tickerMs = opts.tickerMs ?? 5;
  const dir = makeTempDir('inspircd');
  mkdirSync(path.join(dir, 'data'));
  const [port, tlsPort, linkPort, tickPort] = await freePorts(4) as [number, number, number, number];
  const linkPassword = `linkpass-${Math.random().toString(36).slice(2)}`;
  const tlsFiles = opts.tls ? await makeTls(dir) : undefined;
  const log = path.join(dir, 'logs', 'inspircd.out');
  const ircdLog = path.join(dir, 'logs', 'ircd.log');
  const athemeDir = path.join(dir, 'atheme');
  const athemeOut = path.join(athemeDir, 'atheme.out');

  writeFileSync(path.join(dir, 'motd.txt'), `Welcome to the ${SERVER_NAME} test server.\n`);
  writeFileSync(path.join(dir, 'inspircd.conf'), inspircdConf({ dir, port, tlsPort, linkPort, tickPort, linkPassword, tlsFiles }));
  if (services) {
    mkdirSync(athemeDir);
    writeFileSync(path.join(athemeDir, 'atheme.conf'), athemeConf({ dir: athemeDir, linkPort, linkPassword }));
    // Pre-seeded opensex DB; a password without the crypto flag is compared as plaintext.
    const now = Math.floor(Date.now() / 1000);
    writeFileSync(path.join(athemeDir, 'services.db'), ['DBV 12', ...accounts.flatMap((a, i) => [
      `MU AAAAAA${i.toString(16).toUpperCase().padStart(3, '0')} ${a.name} ${a.password} ${a.name}@example.invalid ${now} ${now} +s default`,
      `MN ${a.name} ${a.name} ${now} ${now}`,
    ])].join('\n') + '\n');
  }

  const components: Component[] = [{
    // SIGKILL: Debian's 3.15 segfaults on graceful shutdown with ssl_gnutls (exit 139 + core file).
    signal: 'SIGKILL',
    async start() {
      // As root InspIRCd 3 exits with status 8 unless --runasroot.
      const args = ['--config', path.join(dir, 'inspircd.conf'), '--nofork', ...(process.getuid?.() === 0 ? ['--runasroot'] : [])];
      const p = spawnLogged('inspircd', bin, args, dir, log);
      try {
        await waitUntil(`inspircd on ${HOST}:${port}`, () => tryConnect(port, 1_000), [p], timeout, () => ircd.logTail());
      } catch (e) {
        await stopProc(p, 'SIGKILL');
        throw e;
      }
      return p;
    },
  }];
  if (tickerMs > 0) {
    components.push({
      signal: 'SIGTERM',
      // A separate process (not a timer in the test worker): fake timers or a busy test must not stop it.
      async start() {
        const script = `const s=require('net').connect(+process.argv[1],'127.0.0.1');s.setNoDelay(true);
s.on('data',()=>{});s.on('error',()=>process.exit(0));s.on('close',()=>process.exit(0));
s.on('connect',()=>setInterval(()=>s.write('\\n'),+process.argv[2]));`;
        return spawnLogged('ticker', process.execPath, ['-e', script, String(tickPort), String(tickerMs)], dir, path.join(dir, 'logs', 'ticker.out'));
      },
    });
  }
  if (services) {
    components.push({
      signal: 'SIGTERM', // clean exit, Atheme saves its DB (the seeded passwords get hashed)
      async start() {
        // Atheme refuses to start if the pid file names a live process.
        rmSync(path.join(athemeDir, 'atheme.pid'), { force: true });
        const p = spawnLogged('atheme-services', atheme, ['-n', '-c', path.join(athemeDir, 'atheme.conf'), '-D', athemeDir,
          '-l', path.join(athemeDir, 'atheme.log'), '-p', path.join(athemeDir, 'atheme.pid')], athemeDir, athemeOut);
        // InspIRCd offers the sasl cap only while the SASL target server is linked.
        try {
          await waitUntil(`atheme link to inspircd on ${HOST}:${linkPort}`, () => offersCap(port, 'sasl'), [p], timeout, () => ircd.logTail());
        } catch (e) {
          await stopProc(p, 'SIGKILL');
          throw e;
        }
        return p;
      },
    });
  }

  const ircd: Ircd = makeIrcd(
    { kind: 'inspircd', host: HOST, port, tlsPort: opts.tls ? tlsPort : undefined, caFile: tlsFiles?.ca, dir, serverName: SERVER_NAME, oper: OPER },
    components,
    [log, ircdLog, athemeOut],
  );
  return startOrCleanUp(ircd);
}

async function offersCap(port: number, cap: string): Promise<boolean> {
  try {
    const c = await connectClient({ host: HOST, port, nick: 'capprobe', register: false, timeoutMs: 2_000 });
    try {
      return (await capLs(c, 2_000)).has(cap);
    } finally {
      c.close();
    }
  } catch {
    return false;
  }
}

function inspircdConf(o: { dir: string; port: number; tlsPort: number; linkPort: number; tickPort: number; linkPassword: string; tlsFiles?: { cert: string; key: string } }): string {
  const tls = o.tlsFiles
    ? `<bind address="${HOST}" port="${o.tlsPort}" type="clients" sslprofile="tls">
<module name="ssl_gnutls">
<sslprofile name="tls" provider="gnutls" certfile="${o.tlsFiles.cert}" keyfile="${o.tlsFiles.key}" hash="sha256" requestclientcert="yes">
<module name="sslinfo">`
    : '';
  return `# Generated by test/helpers/ircd.ts. Loopback only.
<path configdir="${o.dir}" datadir="${o.dir}/data" logdir="${o.dir}/logs" moduledir="/usr/lib/inspircd/modules">
<pid file="${o.dir}/inspircd.pid">
<server name="${SERVER_NAME}" description="Test IRC server" id="0TS" network="TestNet">
<admin name="Test Admin" nick="admin" email="admin@example.invalid">

<bind address="${HOST}" port="${o.port}" type="clients">
<bind address="${HOST}" port="${o.linkPort}" type="servers">
<bind address="${HOST}" port="${o.tickPort}" type="clients">
${tls}

# Ticker class (must match first; never registers, hence the huge timeout).
# InspIRCd 3 retries a read that filled its buffer only after the next
# epoll_wait(), which can take 1 s when idle: a fast client stalls ~1 s per
# buffer. The ticker's empty line every few ms keeps the loop turning.
<connect name="ticker" allow="${HOST}" port="${o.tickPort}" timeout="315360000"
         threshold="4000000" commandrate="1000000000" fakelag="yes"
         resolvehostnames="no" useident="no" recvq="65536">

# No throttling, no clone limits, no DNS/ident. threshold*1000 is 32-bit: keep <= 4294967.
<connect name="test" allow="*" timeout="60" pingfreq="120"
         threshold="4000000" commandrate="1000000000" fakelag="no"
         softsendq="16777216" hardsendq="134217728" recvq="16777216"
         localmax="100000" globalmax="100000" limit="100000" maxchans="1000"
         maxconnwarn="no" uniqueusername="no" resolvehostnames="no" useident="no">

<dns server="127.0.0.1" timeout="1">
<files motd="${o.dir}/motd.txt">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="${o.dir}/logs/ircd.log">
<options prefixquit="Quit: " syntaxhints="no" announcets="yes" hostintopic="yes" pingwarning="15" splitwhois="no" exemptchanops="">
<security announceinvites="dynamic" hideulines="no" flatlinks="no" hidesplits="no" hidebans="no" maxtargets="20" userstats="Pu">
<performance netbuffersize="65534" somaxconn="1024" softlimit="100000" clonesonconnect="no" quietbursts="yes">
<whowas groupsize="10" maxgroups="10000" maxkeep="1h">

<class name="all" commands="*" privs="*" usermodes="*" chanmodes="*" snomasks="*">
<type name="Admin" classes="all" vhost="staff.${SERVER_NAME}">
<oper name="${OPER.name}" password="${OPER.password}" host="*@*" type="Admin">

<module name="cap">
<module name="ircv3">
<ircv3 accountnotify="yes" awaynotify="yes" extendedjoin="yes">
<module name="ircv3_accounttag">
<module name="ircv3_batch">
<module name="ircv3_capnotify">
<module name="ircv3_chghost">
<module name="ircv3_ctctags">
<module name="ircv3_echomessage">
<module name="ircv3_invitenotify">
<module name="ircv3_labeledresponse">
<module name="ircv3_msgid">
<module name="ircv3_servertime">
<module name="namesx">
<module name="uhnames">
<module name="setname">
<module name="monitor">
<module name="botmode">
<module name="sasl">
<sasl target="${SERVICES_NAME}" requiressl="no">
<module name="services_account">

<module name="spanningtree">
<module name="servprotect">
# Atheme introduces its clients with umode +d; without this module the link is refused.
<module name="deaf">
<module name="hidechans">
<module name="svshold">
<module name="chghost">
<module name="alias">
<alias text="NICKSERV" replace="PRIVMSG NickServ :$2-" requires="NickServ" uline="yes">
<alias text="NS" replace="PRIVMSG NickServ :$2-" requires="NickServ" uline="yes">
<alias text="CHANSERV" replace="PRIVMSG ChanServ :$2-" requires="ChanServ" uline="yes">
<alias text="CS" replace="PRIVMSG ChanServ :$2-" requires="ChanServ" uline="yes">
<link name="${SERVICES_NAME}" ipaddr="127.0.0.1" port="${o.linkPort}" allowmask="127.0.0.0/8" timeout="10" hidden="no"
      sendpass="${o.linkPassword}" recvpass="${o.linkPassword}">
<uline server="${SERVICES_NAME}" silent="yes">
`;
}

function athemeConf(o: { dir: string; linkPort: number; linkPassword: string }): string {
  const mods = [
    'protocol/inspircd', // InspIRCd 2.0 protocol 1202; InspIRCd 3 accepts it
    'backend/opensex', 'crypto/pbkdf2v2',
    ...['main', 'help', 'register', 'identify', 'logout', 'info', 'drop', 'ghost', 'group', 'cert', 'set_core', 'set_password', 'regnolimit'].map((m) => `nickserv/${m}`),
    ...['main', 'help', 'register', 'flags', 'op', 'voice', 'info', 'drop'].map((m) => `chanserv/${m}`),
    'saslserv/main', 'saslserv/plain', 'saslserv/external',
  ];
  const bot = (nick: string, real: string) => `\tnick = "${nick}";\n\tuser = "${nick}";\n\thost = "${SERVICES_NAME}";\n\treal = "${real}";`;
  return `/* Generated by test/helpers/ircd.ts */
${mods.map((m) => `loadmodule "modules/${m}";`).join('\n')}

serverinfo {
\tname = "${SERVICES_NAME}"; desc = "Atheme test services"; numeric = "00A";
\trecontime = 1; netname = "TestNet"; hidehostsuffix = "users.test";
\tadminname = "Test Admin"; adminemail = "admin@example.invalid"; registeremail = "noreply@example.invalid";
\tmta = "/bin/true"; loglevel = { error; info; admin; network; register; };
\tmaxlogins = 1000; maxusers = 0; mdlimit = 30; emaillimit = 1000; emailtime = 300;
\tauth = none; casemapping = rfc1459;
};
uplink "${SERVER_NAME}" { host = "127.0.0.1"; port = ${o.linkPort}; password = "${o.linkPassword}"; };
nickserv {
${bot('NickServ', 'Nickname Services')}
\tmaxnicks = 5; expire = 0;
};
chanserv {
${bot('ChanServ', 'Channel Services')}
\tmaxchans = 100; expire = 0;
\ttemplates { vop = "+AV"; hop = "+AHehitrv"; aop = "+AOehiortv"; sop = "+AOaefhiorstv"; founder = "+AFORaefhiorstv"; };
};
saslserv {
${bot('SaslServ', 'SASL Authentication Agent')}
};
logfile "${o.dir}/atheme.log" { error; info; admin; network; register; };
general {
\tuflags = { hidemail; }; cflags = { verbose; };
\tflood_msgs = 0; flood_time = 10; kline_time = 7; clone_time = 0; commit_interval = 1;
\tdefault_clone_allowed = 10000; default_clone_warn = 10000; uplink_sendq_limit = 104857600;
\tlanguage = "en"; immune_level = immune; show_entity_id;
};
`;
}
