/**
 * `hive/sdk/config`: what a plugin with a `config:` schema uses to write it. A second entry of the
 * SDK so that a plugin without one does not load zod (~4 MB of heap per process).
 */
export { durationSchema } from '../duration-schema.js';
