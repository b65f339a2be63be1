/**
 * A plugin spec given to `hive load` (Supervisor1.Load), checked as an entry of the config file's
 * `plugins` is: the same bounds (YAML_LIMITS), the same schema and the same per-entry checks
 * (checkPluginSpec: reserved names, one of use/exec/remote, …), plus the two that need the live
 * tree: a name not taken, a parent that is a node. Every problem at once, as InvalidArgs.
 */
import { HiveError } from '../protocol/errors.js';
import { checkPluginSpec } from './config-checks.js';
import { formatProblem, zodProblems } from './config-errors.js';
import { pluginSchema, type PluginSpec } from './config.js';
import { parseBoundedYaml } from './yaml-bounds.js';

export function parseLoadSpec(text: string, nodes: readonly string[]): PluginSpec {
  const parsed = parseBoundedYaml(text, 'the plugin spec');
  if ('problems' in parsed) throw new HiveError('InvalidArgs', parsed.problems.map(formatProblem).join('\n'));
  const raw = parsed.value;
  const entry = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? raw as Record<string, unknown> : {};
  const checked = checkPluginSpec(entry).map(formatProblem);
  const r = pluginSchema.safeParse(raw);
  if (!r.success) throw new HiveError('InvalidArgs', [...zodProblems(r.error.issues, raw).map(formatProblem), ...checked].join('\n'));
  const spec = r.data;
  const problems: string[] = [...checked];
  if (nodes.includes(spec.name)) problems.push(`\`name\`: '${spec.name}' is already a node`);
  if (!nodes.includes(spec.parent)) problems.push(`\`parent\`: '${spec.parent}' is not a node; expected one of: ${nodes.join(', ')}`);
  if (problems.length) throw new HiveError('InvalidArgs', problems.join('\n'));
  return spec;
}
