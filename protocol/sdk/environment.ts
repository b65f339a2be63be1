/**
 * What a node learns from its environment (docs/protocol.md#environment), checked once at start.
 * The supervisor sets these; a node started by hand can set them too.
 *
 * Checked by hand rather than with zod: these are a few strings, and zod costs every plugin
 * process about 7 MB (docs/performance.md). Every problem is named, all of them at once.
 */
import { ENV, NAME_PATTERN } from '../names.js';

export interface NodeEnv {
  node: string;
  instance: string;
  parent: string;
  token: string;
  busAddress: string | undefined;
  stateDir: string | undefined;
  config: Record<string, unknown>;
  commandPrefix: string;
  holdOnDeath: boolean;
  /** HIVE_VOUCH=1: `token` is this node's own credential, and its children's are checked by the supervisor. */
  vouch: boolean;
  /** HIVE_LEAF=1: no child is expected (none in the config); a filter may then be narrow until one comes. */
  leaf: boolean;
  /** HIVE_CONFIG_CHECKED=1: the supervisor checked HIVE_CONFIG with the config's own schemas. */
  configChecked: boolean;
  /** HIVE_READ_DELAY_MS: how long an observer leaves its socket unread (node.ts READ_DELAY_MS when unset). */
  readDelayMs: number | undefined;
}

export class EnvironmentError extends Error {
  override name = 'EnvironmentError';
}

const NAME_MESSAGE = 'expected letters, digits and _ starting with a letter';

export function readNodeEnv(env: NodeJS.ProcessEnv = process.env): NodeEnv {
  const problems: string[] = [];
  const name = (key: string, fallback?: string): string => {
    const v = env[key] ?? fallback;
    if (v === undefined) problems.push(`${key}: required (${NAME_MESSAGE})`);
    else if (!NAME_PATTERN.test(v)) problems.push(`${key}: ${NAME_MESSAGE}`);
    return v ?? '';
  };
  const node = name(ENV.node);
  const instance = name(ENV.instance, 'default');
  const token = env[ENV.token] ?? '';
  if (token.length === 0) problems.push(`${ENV.token}: the node's credential is required`);
  const vouch = env[ENV.vouch] ?? '';
  if (!['', '0', '1'].includes(vouch)) problems.push(`${ENV.vouch}: expected 1 (the supervisor vouches for credentials) or 0`);
  let config: Record<string, unknown> = {};
  const rawConfig = env[ENV.config] ?? '{}';
  try {
    const v = JSON.parse(rawConfig) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) config = v as Record<string, unknown>;
    else problems.push(`${ENV.config}: expected a JSON object`);
  } catch {
    problems.push(`${ENV.config}: expected a JSON object`);
  }
  const leaf = env[ENV.leaf] ?? '';
  if (!['', '0', '1'].includes(leaf)) problems.push(`${ENV.leaf}: expected 1 (no child expected) or 0`);
  const delay = env.HIVE_READ_DELAY_MS;
  const readDelayMs = delay === undefined || delay === '' ? undefined : Number(delay);
  if (readDelayMs !== undefined && !(Number.isInteger(readDelayMs) && readDelayMs >= 0 && readDelayMs <= 1000)) problems.push('HIVE_READ_DELAY_MS: expected whole milliseconds from 0 to 1000');
  const onDeath = env.HIVE_ON_DEATH ?? 'bypass';
  if (onDeath !== 'hold' && onDeath !== 'bypass') problems.push(`HIVE_ON_DEATH: expected 'hold' or 'bypass'`);
  if (problems.length) throw new EnvironmentError(problems.join('\n'));
  return {
    node,
    instance,
    parent: env[ENV.parent] ?? '',
    token,
    busAddress: env[ENV.busAddress] ?? env.DBUS_SESSION_BUS_ADDRESS,
    stateDir: env[ENV.stateDir],
    config,
    commandPrefix: env.HIVE_COMMAND_PREFIX ?? '!',
    holdOnDeath: onDeath === 'hold',
    vouch: vouch === '1',
    leaf: leaf === '1',
    configChecked: env[ENV.configChecked] === '1',
    readDelayMs,
  };
}
