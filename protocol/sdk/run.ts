/**
 * Running a node process: read the environment, start the node, install the fault handler
 * (Reparent to the children before dying) and the graceful shutdown on SIGTERM/SIGINT.
 */
import { createLogger } from '../logger.js';
import { readNodeEnv, EnvironmentError } from './environment.js';
import { HiveNode, type Kind } from './node.js';
import { createContext, type Manifest, type PluginContext } from './plugin.js';

/** Exit codes of a node process (docs/protocol.md#exit-codes). */
export const EXIT = { ok: 0, fatal: 1, badEnvironment: 2 } as const;

export function installShutdown(node: HiveNode, cleanup?: () => Promise<void> | void): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(EXIT.fatal);
    stopping = true;
    node.log.info({ signal }, 'shutting down');
    Promise.resolve()
      .then(() => cleanup?.())
      .then(() => node.stop())
      .catch((err) => node.log.error({ err }, 'shutdown failed'))
      .finally(() => process.exit(EXIT.ok));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  const fatal = (err: unknown) => {
    node.log.fatal({ err }, 'fatal error; asking the children to re-parent');
    node.emitReparentNow();
    setTimeout(() => process.exit(EXIT.fatal), 50);
  };
  // A node without its bus can do nothing; the supervisor (if any) starts a new one.
  node.onBusLost = () => setTimeout(() => process.exit(EXIT.fatal), 50);
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
}

export async function runPlugin(manifest: Manifest, fn: (ctx: PluginContext) => unknown): Promise<HiveNode> {
  let env;
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
  if (manifest.config) {
    const r = manifest.config.safeParse(env.config);
    if (!r.success) {
      const why = r.error.issues.map((i) => `config.${i.path.join('.') || '(top)'}: ${i.message}`).join('; ');
      log.fatal({ issues: r.error.issues }, `bad plugin config: ${why}`);
      process.stderr.write(`${env.node}: bad plugin config: ${why}\n`);
      process.exit(EXIT.badEnvironment);
    }
    env.config = r.data as Record<string, unknown>;
  }
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
    commands: Object.entries(manifest.commands ?? {}).map(([c, s]) => [c, s.help]),
  });
  const ctx = createContext(node, { manifest, config: env.config, stateDir: env.stateDir, commandPrefix: env.commandPrefix });
  let cleanup: unknown;
  try {
    cleanup = await fn(ctx);
  } catch (err) {
    log.fatal({ err }, 'plugin set-up failed');
    process.exit(EXIT.fatal);
  }
  installShutdown(node, typeof cleanup === 'function' ? (cleanup as () => void) : undefined);
  await node.start();
  return node;
}
