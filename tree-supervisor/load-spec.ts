/**
 * A plugin spec given to `hive load` (Supervisor1.Load), checked as an entry of the config file's
 * `plugins` is: the same bounds (YAML_LIMITS), the same schema and the same per-entry checks
 * (checkPluginSpec: reserved names, one of use/exec/remote, …), plus the two that need the live
 * tree: a name not taken, a parent that is a node. Every problem at once, as InvalidArgs.
 * A `dir:` or `package:` spec is read from its manifest (plugin-manifest.ts); `baseDir` is where
 * a relative one is found from (`hive load` sends absolute folders; the supervisor's cwd otherwise).
 */
import { HiveError } from '../protocol/errors.js';
import { checkPluginSpec } from './config-checks.js';
import { formatProblem, zodProblems } from './config-errors.js';
import { pluginSchema, type PluginSpec } from './config.js';
import { parseBoundedYaml } from './yaml-bounds.js';
import { execOf, namesSource, readSource } from './plugin-manifest.js';

export function parseLoadSpec(text: string, nodes: readonly string[], baseDir: string = process.cwd()): PluginSpec {
  const parsed = parseBoundedYaml(text, 'the plugin spec');
  if ('problems' in parsed) throw new HiveError('InvalidArgs', parsed.problems.map(formatProblem).join('\n'));
  let raw = parsed.value;
  let entry = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? raw as Record<string, unknown> : {};
  // A plugin folder or package (`hive load` sends a folder as an absolute dir): its manifest first,
  // which names the node when the spec does not.
  const from = namesSource(entry) ? readSource(entry, baseDir) : undefined;
  if (from) raw = entry = from.entry;
  const checked = [...(from?.problems ?? []), ...checkPluginSpec(entry)].map(formatProblem);
  const r = pluginSchema.safeParse(raw);
  if (!r.success) {
    const nameless = from && entry.name === undefined;
    const zod = zodProblems(r.error.issues, raw).filter((p) => !(nameless && p.keyPath.join('.') === 'name'));
    throw new HiveError('InvalidArgs', [...zod.map(formatProblem), ...checked].join('\n'));
  }
  let spec = r.data;
  const problems: string[] = [...checked];
  if (nodes.includes(spec.name)) problems.push(`\`name\`: '${spec.name}' is already a node`);
  if (!nodes.includes(spec.parent)) problems.push(`\`parent\`: '${spec.parent}' is not a node; expected one of: ${nodes.join(', ')}`);
  if (problems.length) throw new HiveError('InvalidArgs', problems.join('\n'));
  if (from?.source) spec = { ...spec, ...execOf(from.source), dir: from.source.dir, config: from.config };
  return spec;
}
