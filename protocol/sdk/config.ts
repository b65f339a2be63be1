/**
 * `hive/sdk/config`: zod helpers for a plugin that writes its `config:` schema with zod. A second
 * entry of the SDK so that a plugin without zod does not load it (~8 MB PSS per process): the
 * SDK's own checks (`c` from `hive/sdk`, checks.ts) do the same without zod, and `c.duration()`
 * is this durationSchema's equivalent.
 */
export { durationSchema } from '../duration-schema.js';
