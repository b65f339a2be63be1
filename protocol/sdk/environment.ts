/**
 * What a node learns from its environment (docs/protocol.md#environment), parsed once with zod.
 * The supervisor sets these; a node started by hand can set them too.
 */
import { z } from 'zod';
import { ENV, NAME_PATTERN } from '../names.js';

const name = z.string().regex(NAME_PATTERN, 'expected letters, digits and _ starting with a letter');

export const nodeEnvSchema = z.object({
  [ENV.node]: name,
  [ENV.instance]: name.default('default'),
  [ENV.parent]: z.string().default(''),
  [ENV.token]: z.string().min(1, 'the hive token is required'),
  [ENV.busAddress]: z.string().optional(),
  DBUS_SESSION_BUS_ADDRESS: z.string().optional(),
  [ENV.stateDir]: z.string().optional(),
  [ENV.config]: z.string().default('{}').transform((s, ctx) => {
    try {
      const v = JSON.parse(s) as unknown;
      if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch { /* reported below */ }
    ctx.addIssue({ code: 'custom', message: 'expected a JSON object' });
    return z.NEVER;
  }),
  HIVE_COMMAND_PREFIX: z.string().default('!'),
  HIVE_ON_DEATH: z.enum(['hold', 'bypass']).default('bypass'),
});

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
}

export class EnvironmentError extends Error {
  override name = 'EnvironmentError';
}

export function readNodeEnv(env: NodeJS.ProcessEnv = process.env): NodeEnv {
  const r = nodeEnvSchema.safeParse(env);
  if (!r.success) {
    throw new EnvironmentError(r.error.issues.map((i) => `${String(i.path[0])}: ${i.message}`).join('\n'));
  }
  const e = r.data;
  return {
    node: e[ENV.node],
    instance: e[ENV.instance],
    parent: e[ENV.parent],
    token: e[ENV.token],
    busAddress: e[ENV.busAddress] ?? e.DBUS_SESSION_BUS_ADDRESS,
    stateDir: e[ENV.stateDir],
    config: e[ENV.config],
    commandPrefix: e.HIVE_COMMAND_PREFIX,
    holdOnDeath: e.HIVE_ON_DEATH === 'hold',
  };
}
