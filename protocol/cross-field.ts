/**
 * Marks a zod issue (via `params: CROSS_FIELD`) whose message is about several keys together, so
 * that config errors read "min_delay must not be greater than max_delay", not "invalid value".
 * Shared by every schema of the config file, wherever it lives (supervisor, mouth, plugins).
 */
export const CROSS_FIELD = { crossField: true } as const;
