/**
 * The config's duration as a zod schema (the grammar is protocol/duration.ts). Apart from the
 * grammar because zod costs every process that loads it ~4 MB of heap: plugins without a config
 * schema never load it (the SDK's `hive/sdk/config` entry exports this, not its index).
 */
import { z } from 'zod';
import { DURATION_MESSAGE, tryParseDuration } from './duration.js';

/**
 * Accepts a duration (config form) and yields ms. One custom issue for every bad input (instead of
 * a union's two) so that the config error reads as a single sentence.
 */
export const durationSchema = z
  .custom<string | number>((value) => tryParseDuration(value) !== undefined, { error: DURATION_MESSAGE })
  .transform((value) => tryParseDuration(value) as number);
