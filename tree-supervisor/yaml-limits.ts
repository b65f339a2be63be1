/**
 * Bounds of a YAML text the supervisor reads (the config file, a `hive load` spec): a hive's
 * config is a few kilobytes; anything near these is an accident or an attack ("billion laughs":
 * aliases of aliases that expand exponentially; thousands of nested brackets). Apart from
 * yaml-bounds.ts so that the running supervisor sizes its D-Bus bodies without loading yaml.
 */
export const YAML_LIMITS = { maxBytes: 1024 * 1024, maxAliasCount: 1000, maxDepth: 64 } as const;
