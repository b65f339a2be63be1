/**
 * The value rules of the `hive.*` metadata keys (metadata.ts has their D-Bus types and meaning).
 * A separate module so that zod is loaded only where messages from other processes are checked.
 */
import { z } from 'zod';
import type { MetaKey } from './metadata.js';

export const META_SCHEMAS = {
  'hive.id': z.string().min(1).max(128),
  'hive.network': z.string().min(1).max(64),
  'hive.time': z.number().finite(),
  'hive.nick': z.string().max(64),
  'hive.reply_to': z.string().min(1).max(128),
  'hive.seq': z.number().int().nonnegative(),
  'hive.path': z.array(z.string().max(64)).max(64),
  'hive.tags': z.record(z.string(), z.string()),
  'hive.account': z.string().max(128),
  'hive.event': z.enum(['connecting', 'registered', 'disconnected', 'nick', 'line']),
  'hive.reason': z.string().max(512),
  'hive.origin': z.string().max(64),
  'hive.query': z.boolean(),
  'hive.replayed': z.boolean(),
  'hive.ctcp': z.boolean(),
  'hive.capabilities': z.array(z.string().max(64)).max(256),
  'hive.msgid': z.string().min(1).max(128),
  'hive.reply_msgid': z.string().min(1).max(128),
  'hive.replaces': z.string().min(1).max(128),
  'hive.links': z.array(z.string().max(2048)).max(16),
  'hive.history': z.boolean(),
} as const satisfies Record<MetaKey, z.ZodType>;
