/**
 * Running a node process: read the environment, start the node, install the fault handler
 * (Reparent to the children before dying) and the graceful shutdown on SIGTERM/SIGINT.
 * With HIVE_RECONNECT=1 the process keeps the node running through losses of the bus (see keep()).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { backoffDelay } from '../backoff.js';
import { HiveError } from '../errors.js';
import { createLogger, type Logger } from '../logger.js';
import { readNodeEnv, EnvironmentError } from './environment.js';
import { HiveNode, type Kind } from './node.js';
import type { z } from 'zod';
import type { Plugin } from './define.js';
import type { StandardSchemaV1 } from './checks.js';
import { collectWhenIdle } from './idle-gc.js';
import { createContext, type ConfigOf, type Manifest, type PluginContext } from './plugin.js';

/** Exit codes of a node process (docs/protocol.md#exit-codes). */
export const EXIT = { ok: 0, fatal: 1, badEnvironment: 2, lostPlace: 3 } as const;

/**
 * HIVE_RECONNECT: `1` for a node the supervisor does not start (a `remote` node behind an ssh
 * tunnel, docs/deploy.md). The keeper passes `child` to the node it runs; `0` or unset: off.
 */
export const RECONNECT_ENV = 'HIVE_RECONNECT';
const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 10_000;

type KeeperMessage = { hive: 'up' } | { hive: 'stop' };

/** Whether this process is a node run by a HIVE_RECONNECT keeper (which talks to it over IPC). */
function underKeeper(): boolean {
  return process.env[RECONNECT_ENV] === 'child' && typeof process.send === 'function';
}

export function installShutdown(node: HiveNode, cleanup?: () => Promise<void> | void): void {
  let stopping = false;
  const stop = (signal: string, secondForces = true) => {
    if (stopping) {
      if (secondForces) process.exit(EXIT.fatal);
      return;
    }
    stopping = true;
    node.log.info({ signal }, 'shutting down');
    Promise.resolve()
      .then(() => cleanup?.())
      .then(() => node.stop())
      .catch((err) => node.log.error({ err }, 'shutdown failed'))
      .finally(() => process.exit(EXIT.ok));
  };
  // Under a keeper the same stop may come twice, in any order: as a signal (systemd signals the
  // whole unit, a terminal the whole group) and from the keeper over IPC. Only the keeper forces
  // (on a second signal to it, with SIGKILL).
  const keeper = underKeeper();
  process.on('SIGTERM', () => stop('SIGTERM', !keeper));
  process.on('SIGINT', () => stop('SIGINT', !keeper));
  if (keeper) {
    process.on('message', (m: KeeperMessage) => { if (m?.hive === 'stop') stop('keeper', false); });
    // A node whose keeper is gone (kill -9) would run on unsupervised: it stops.
    process.on('disconnect', () => stop('keeper gone', false));
    process.channel?.unref();
  }
  const fatal = (err: unknown) => {
    node.log.fatal({ err }, 'fatal error; asking the children to re-parent');
    node.emitReparentNow();
    setTimeout(() => process.exit(EXIT.fatal), 50);
  };
  // A node without its bus can do nothing; the supervisor (if any) starts a new one.
  node.onBusLost = () => setTimeout(() => process.exit(EXIT.fatal), 50);
  // Refused as a child again and again after attaching anew: a fresh run takes the place back.
  node.onLostPlace = () => {
    node.emitReparentNow();
    setTimeout(() => process.exit(EXIT.lostPlace), 50);
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
}

const nodes = new WeakMap<object, HiveNode>();

/**
 * The node behind a plugin's context. Not part of the plugin API (no plugin needs it): for the
 * runtime's own hostile test fixtures, which call the parent by hand.
 */
export function nodeOf(ctx: PluginContext<unknown>): HiveNode {
  const node = nodes.get(ctx);
  if (!node) throw new HiveError('InvalidArgs', 'nodeOf: not a context made by runPlugin');
  return node;
}

/** Runs a plugin made by definePlugin (what plugins/run.ts does with the module it is given). */
export function run<C>(plugin: Plugin<C>): Promise<HiveNode> {
  return runPlugin(plugin.manifest, plugin.setup as (ctx: PluginContext<unknown>) => unknown);
}

/** Runs a plugin given as its manifest and set-up function (the runtime's test fixtures, benches). */
export async function runPlugin<S extends z.ZodType | undefined = undefined>(manifest: Manifest<S>, fn: (ctx: PluginContext<ConfigOf<S>>) => unknown): Promise<HiveNode> {
  let env: ReturnType<typeof readNodeEnv>;
  try {
    env = readNodeEnv();
  } catch (err) {
    if (err instanceof EnvironmentError) {
      process.stderr.write(`${manifest.name}: bad environment:\n${err.message}\n`);
      process.exit(EXIT.badEnvironment);
    }
    throw err;
  }
  const log = createLogger({ node: env.node, kind: manifest.kind });
  const reconnect = process.env[RECONNECT_ENV] ?? '';
  if (!['', '0', '1', 'child'].includes(reconnect)) {
    process.stderr.write(`${manifest.name}: bad environment:\n${RECONNECT_ENV}: expected 1 (keep reconnecting) or 0\n`);
    process.exit(EXIT.badEnvironment);
  }
  if (manifest.config) {
    // Through Standard Schema's interface: the SDK's own checks (checks.ts) or zod's alike.
    const schema = manifest.config as unknown as StandardSchemaV1;
    const r = await schema['~standard'].validate(env.config);
    if (r.issues) {
      const issues = r.issues.map((i) => ({ path: (i.path ?? []).map((k) => String(typeof k === 'object' ? k.key : k)), message: i.message }));
      const why = issues.map((i) => `config.${i.path.join('.') || '(top)'}: ${i.message}`).join('; ');
      log.fatal({ issues }, `bad plugin config: ${why}`);
      process.stderr.write(`${env.node}: bad plugin config: ${why}\n`);
      process.exit(EXIT.badEnvironment);
    }
    // The checked value, with the schema's defaults: what the plugin gets as hive.config.
    env.config = r.value as Record<string, unknown>;
  }
  // The environment and the config are good (checked above, once): from here a node can only fail in ways worth retrying.
  if (reconnect === '1') return keep(log);
  const node = new HiveNode({
    name: env.node,
    kind: manifest.kind as Kind,
    instance: env.instance,
    token: env.token,
    log,
    busAddress: env.busAddress,
    parent: env.parent,
    holdOnDeath: env.holdOnDeath,
    stateDir: env.stateDir,
    vouch: env.vouch,
    readDelayMs: env.readDelayMs,
    commands: Object.entries(manifest.commands ?? {}).map(([c, s]) => [c, s.help]),
  });
  const ctx = createContext(node, { config: env.config as ConfigOf<S>, stateDir: env.stateDir, commandPrefix: env.commandPrefix, leaf: env.leaf });
  nodes.set(ctx, node);
  let cleanup: unknown;
  try {
    cleanup = await fn(ctx);
  } catch (err) {
    log.fatal({ err }, 'plugin set-up failed');
    process.exit(EXIT.fatal);
  }
  installShutdown(node, typeof cleanup === 'function' ? (cleanup as () => void) : undefined);
  try {
    await node.start();
  } catch (err) {
    log.fatal({ err }, 'the node could not start (is the bus reachable, the name free?)');
    node.emitReparentNow();
    setTimeout(() => process.exit(EXIT.fatal), 50);
    return node;
  }
  if (underKeeper()) process.send!({ hive: 'up' } satisfies KeeperMessage);
  // Give back what a burst grew the heap to, once quiet (idle-gc.ts).
  collectWhenIdle({ afterStart: true, onCollect: (before, after) => log.debug({ before_mb: Math.round(before / 1048576), after_mb: Math.round(after / 1048576) }, 'heap collected after a burst') });
  return node;
}

/**
 * HIVE_RECONNECT=1: this process becomes a small keeper that runs the node in a child process
 * (the same program and arguments) and starts it again, with backoff, whenever it ends with
 * exit 1: the bus lost (an ssh tunnel dropped), not reachable yet, or a crash. Exit 0 (stopped)
 * and 2 (bad environment or config) end the keeper with that code. A fresh process per attempt
 * rather than a reconnect inside this one: a plugin's set-up runs once per process, as always,
 * and Node 20 has no exec(). SIGTERM/SIGINT stop the node and then the keeper.
 */
function keep(log: Logger): Promise<never> {
  const env = { ...process.env, [RECONNECT_ENV]: 'child' };
  let attempt = 0;
  let child: ChildProcess | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopping = false;
  const run = () => {
    timer = undefined;
    const c = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { env, stdio: ['inherit', 'inherit', 'inherit', 'ipc'] });
    child = c;
    // Connected and named: the next loss starts again from the shortest delay.
    c.on('message', (m: KeeperMessage) => { if (m?.hive === 'up') attempt = 0; });
    c.on('error', (err) => { log.fatal({ err }, 'cannot start the node process'); process.exit(EXIT.fatal); });
    c.on('exit', (code, signal) => {
      child = undefined;
      if (stopping) process.exit(code ?? EXIT.fatal);
      if (code === EXIT.ok || code === EXIT.badEnvironment) {
        log.info({ code }, 'the node ended; not starting it again');
        process.exit(code);
      }
      const delayMs = backoffDelay(attempt++, { baseMs: RECONNECT_MIN_MS, maxMs: RECONNECT_MAX_MS });
      log.warn({ code, signal, delayMs, attempt }, 'the node ended; starting it again');
      timer = setTimeout(run, delayMs);
    });
  };
  const stop = (signal: string) => {
    if (stopping) {
      child?.kill('SIGKILL');
      process.exit(EXIT.fatal);
    }
    stopping = true;
    log.info({ signal }, 'stopping the node');
    if (timer) clearTimeout(timer);
    if (!child) process.exit(EXIT.ok);
    child.send({ hive: 'stop' } satisfies KeeperMessage, (err) => { if (err) child?.kill('SIGTERM'); });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  log.info('keeping the node running (HIVE_RECONNECT=1)');
  run();
  return new Promise<never>(() => undefined);
}
