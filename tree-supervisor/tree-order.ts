/**
 * The order nodes start in. Apart from config.ts so that the running supervisor, which never
 * parses a config itself (config-checker.ts), does not load zod and yaml for it.
 */
import type { HiveConfig, PluginSpec } from './config.js';
import { ROOT } from './reparent.js';

/**
 * Plugins ordered so that every parent comes before its children (the mouth, first of all,
 * is implied); otherwise in file order. Start nodes in this order, stop them in reverse.
 */
export function treeOrder(config: Pick<HiveConfig, 'plugins'>): PluginSpec[] {
  const placed = new Set<string>([ROOT]);
  const pending = [...config.plugins];
  const ordered: PluginSpec[] = [];
  while (pending.length > 0) {
    const before = pending.length;
    for (let i = 0; i < pending.length; ) {
      const spec = pending[i] as PluginSpec;
      if (placed.has(spec.parent)) {
        ordered.push(spec);
        placed.add(spec.name);
        pending.splice(i, 1);
      } else i++;
    }
    if (pending.length === before) {
      throw new Error(`plugins with an unknown parent or a cycle: ${pending.map((p) => p.name).join(', ')}`);
    }
  }
  return ordered;
}
