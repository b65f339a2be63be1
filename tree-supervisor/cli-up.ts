/**
 * `hive up`: runs a hive in the foreground. Loads the config (or the embedded default), starts or
 * finds the bus, starts the supervisor and the tree, and on SIGINT/SIGTERM stops the leaves first,
 * then the mouth, then the bus. A second signal forces: every node and the private bus get SIGKILL
 * and `hive up` exits at once with 128 + the signal's number (docs/cli.md#exit-codes), whatever it
 * was waiting for.
 */
import { rmSync } from 'node:fs';
import { lstat, readFile, writeFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createRootLogger } from '../protocol/logger.js';
import { collectWhenIdle } from '../protocol/sdk/idle-gc.js';
import type { HiveConfig, LoadedConfig } from './config.js';
import { redactSecrets } from './config-secrets.js';
import { checkUpConfig } from './config-checker.js';
import { SdNotify } from './sd-notify.js';
import { ConfigError } from './config-errors.js';
import { EXIT_CODES } from './exit-codes.js';
import { startPrivateBus, type PrivateBus } from './private-bus.js';
import { ensureRuntimeDir, readRuntimeInfo, removeRuntimeInfo, runtimeDir, runtimeFile, writeRuntimeInfo } from './runtime-file.js';
import { Supervisor } from './supervisor.js';
import { stopWithDeadline } from './deadline.js';
import { newSecret } from './credentials.js';

/** How long the private bus may take to end after SIGTERM before it is killed, and to be gone after that. */
const BUS_STOP_DEADLINE_MS = 5000;
const BUS_KILL_WAIT_MS = 2000;

/** Passwords written in the file itself are not logged either. */
function hideSecretKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(hideSecretKeys);
  if (!value || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, /password|token|secret/i.test(k) && typeof v === 'string' ? '[secret]' : hideSecretKeys(v)]));
}

class TokenFileError extends Error {}

/**
 * The hive secret (the runtime file's `token`): the operator's credential, from which every node's
 * is derived (credentials.ts). New at every `hive up`, or kept in HIVE_TOKEN_FILE so that remote
 * nodes (docs/deploy.md), which were handed their credential once, still hold it after the hive
 * restarts. The file is made (mode 600) when it does not exist, and refused when others may read it.
 */
async function hiveToken(file: string | undefined): Promise<string> {
  if (!file) return newSecret();
  const fresh = newSecret();
  try {
    await writeFile(file, fresh + '\n', { mode: 0o600, flag: 'wx' });
    return fresh;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new TokenFileError(`HIVE_TOKEN_FILE ${file}: cannot create it: ${(err as Error).message}`);
  }
  const st = await lstat(file).catch((err: Error) => { throw new TokenFileError(`HIVE_TOKEN_FILE ${file}: ${err.message}`); });
  if (!st.isFile()) throw new TokenFileError(`HIVE_TOKEN_FILE ${file}: expected a regular file`);
  if (st.uid !== process.getuid?.()) throw new TokenFileError(`HIVE_TOKEN_FILE ${file}: expected a file of yours (it belongs to uid ${st.uid})`);
  if (st.mode & 0o077) throw new TokenFileError(`HIVE_TOKEN_FILE ${file}: others may read it (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
  const token = (await readFile(file, 'utf8').catch((err: Error) => { throw new TokenFileError(`HIVE_TOKEN_FILE ${file}: ${err.message}`); })).trim();
  if (!/^[\x21-\x7e]{32,}$/.test(token)) throw new TokenFileError(`HIVE_TOKEN_FILE ${file}: expected one line of at least 32 printable characters without spaces (e.g. \`openssl rand -hex 24\`)`);
  return token;
}

/** `checked`: the config's check, already started (cli.ts starts it before this module loads). */
export async function up(opts: { config?: string; checked?: Promise<LoadedConfig> }): Promise<number> {
  let config: HiveConfig;
  let secretPaths = new Set<string>();
  let configDir = process.cwd();
  try {
    // Checked in a process of its own (config-checker.ts): this one keeps neither yaml nor zod.
    const loaded = await (opts.checked ?? checkUpConfig(opts.config));
    config = loaded.config;
    secretPaths = loaded.secretPaths;
    if (opts.config) configDir = dirname(resolve(opts.config));
    // The embedded default is for chatting in a terminal: only problems are logged there.
    else config.log_level ??= (process.env.HIVE_LOG_LEVEL as HiveConfig['log_level']) ?? 'warn';
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return EXIT_CODES.usage;
    }
    throw err;
  }
  let token: string;
  try {
    token = await hiveToken(process.env.HIVE_TOKEN_FILE || undefined);
  } catch (err) {
    if (!(err instanceof TokenFileError)) throw err;
    process.stderr.write(`hive up: ${err.message}\n`);
    return EXIT_CODES.usage;
  }

  const root = createRootLogger(config.log_level);
  const log = root.child({ node: 'supervisor', kind: 'supervisor' });
  // Under systemd (Type=notify): taken out of the environment before any node is started.
  const notify = SdNotify.fromEnv(process.env, log);
  const badRuntimeDir = await ensureRuntimeDir();
  if (badRuntimeDir) {
    log.error({ dir: runtimeDir() }, badRuntimeDir);
    return EXIT_CODES.error;
  }
  if (await readRuntimeInfo(config.instance)) {
    log.error({ instance: config.instance }, 'a hive of this instance is already running; stop it with `hive down` or use another instance name');
    return EXIT_CODES.error;
  }
  log.info({ config: hideSecretKeys(redactSecrets(config, secretPaths)) }, 'starting hive');

  let bus: PrivateBus | undefined;
  let busAddress: string;
  if (config.bus === 'session' && process.env.DBUS_SESSION_BUS_ADDRESS) {
    busAddress = process.env.DBUS_SESSION_BUS_ADDRESS;
  } else if (config.bus === 'session' || config.bus === 'private') {
    if (config.bus === 'session') log.warn('no session bus (DBUS_SESSION_BUS_ADDRESS is not set); starting a private one');
    bus = await startPrivateBus({ dir: join(runtimeDir(), `${config.instance}.bus`) });
    busAddress = bus.address;
    log.info({ address: busAddress }, 'private bus started');
  } else {
    busAddress = config.bus;
  }

  let finished: (code: number) => void = () => undefined;
  const done = new Promise<number>((r) => { finished = r; });
  // STATUS= follows the tree: at once, then at most once a second (the last state always sent).
  let statusTimer: NodeJS.Timeout | undefined;
  let statusSentAt = 0;
  let isReady = false;
  const sendStatus = () => { statusSentAt = Date.now(); if (!stopping) void notify?.status(supervisor.statusLine()); };
  const statusChanged = () => {
    if (!notify || !isReady || statusTimer) return;
    const wait = statusSentAt + 1000 - Date.now();
    if (wait <= 0) { sendStatus(); return; }
    statusTimer = setTimeout(() => { statusTimer = undefined; sendStatus(); }, wait);
    statusTimer.unref();
  };
  const supervisor = new Supervisor({
    config, configDir, configFile: opts.config ? resolve(opts.config) : undefined, busAddress, secret: token, runtimeDir: runtimeDir(), log, nodeLog: root,
    onShutdown: (code) => void stop(code),
    onStateChange: statusChanged,
    // Nothing after STOPPING=1: a reload that was running when the stop began does not say READY=1.
    onReload: (phase) => { if (notify && isReady && !stopping) void (phase === 'start' ? notify.reloading() : notify.reloaded(supervisor.statusLine())); },
  });

  let stopping = false;
  let stopped: Promise<void> | undefined;
  /** Stops the tree, then the bus; once, whoever asks (a signal, Shutdown, a failed start-up). */
  function stop(code: number): Promise<void> {
    stopping = true;
    stopped ??= (async () => {
      // STOPPING=1 sent while the shutdown begins, not before: shutdown() refuses any reload from
      // its first line, so none (SIGHUP, Reload) can start in between.
      const stoppingSent = notify?.stopping();
      await supervisor.shutdown().catch((err) => log.error({ err }, 'shutdown failed'));
      await stoppingSent;
      // Bounded: a bus daemon that does not end on SIGTERM (stopped, wedged) is killed.
      if (bus) {
        const b = bus;
        await stopWithDeadline({
          gone: b.stop(),
          force: () => {
            log.error({ pid: b.pid }, `the bus did not stop within ${BUS_STOP_DEADLINE_MS} ms; killing it`);
            process.kill(b.pid, 'SIGKILL');
          },
          graceMs: BUS_STOP_DEADLINE_MS,
          forceWaitMs: BUS_KILL_WAIT_MS,
        });
      }
      await removeRuntimeInfo(config.instance);
      log.info('hive stopped');
      finished(code);
    })();
    return stopped;
  }
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      // No more waiting on anything (a bus call, a node, the bus): kill what is ours and leave.
      log.warn({ signal }, 'second signal: forcing');
      supervisor.forceKill();
      if (bus) {
        try { process.kill(bus.pid, 'SIGKILL'); } catch { /* already gone */ }
        rmSync(bus.dir, { recursive: true, force: true });
      }
      rmSync(runtimeFile(config.instance), { force: true });
      process.exit(128 + (constants.signals[signal] ?? 0));
    }
    log.info({ signal }, 'shutting down');
    void stop(EXIT_CODES.ok);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // SIGHUP: `hive reload` of the file the hive runs (systemd's ExecReload=kill -HUP $MAINPID).
  process.on('SIGHUP', () => {
    if (stopping) { log.warn({ signal: 'SIGHUP' }, 'the hive is stopping: not reloading'); return; }
    log.info({ signal: 'SIGHUP' }, 'reloading the config');
    supervisor.reload().then(
      (r) => { if (r.errors.length) log.error({ errors: r.errors }, 'reload done with errors'); },
      (err: Error) => log.error({ reason: err.message.slice(0, 2000) }, 'SIGHUP: reload refused; nothing changed'),
    );
  });

  // Raced with `done`: a signal during start-up ends `hive up` once the stop is done, even while a
  // start-up step still waits (each is bounded too: START_CALL_MS, waitReady's 30 s).
  const started = (async () => {
    await supervisor.start();
    if (stopping) return;
    await writeRuntimeInfo({ instance: config.instance, pid: process.pid, bus_address: busAddress, supervisor: `org.hive.${config.instance}.Supervisor`, token, private_bus: bus !== undefined });
    await supervisor.waitReady();
    if (stopping) return;
    isReady = true;
    await notify?.ready(supervisor.statusLine());
    // The supervisor idles at its start-up garbage unless V8 happens to shrink it: collect once quiet.
    collectWhenIdle({ afterStart: true });
    if (Object.values(config.networks).some((n) => n.type === 'terminal')) {
      if (process.stdin.isTTY) process.stderr.write(`hive '${config.instance}' is up: talk to it here (try !help); Ctrl-D or Ctrl-C ends it.\n`);
      supervisor.connectTerminal();
    }
  })();
  const failed = await Promise.race([started.then(() => undefined, (err: unknown) => ({ err })), done.then(() => undefined)]);
  if (failed) {
    if (!stopping) log.error({ err: failed.err }, 'the hive could not start');
    await stop(EXIT_CODES.error);
  }
  return done;
}
