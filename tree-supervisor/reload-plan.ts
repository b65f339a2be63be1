/**
 * What `hive reload` does to a running hive (docs/cli.md#hive-reload), planned as a pure function
 * of the running nodes, the config they came from and the edited config:
 *
 * - a plugin added to the file is loaded; one taken out of it is unloaded (one loaded by hand with
 *   `hive load`, never in the file, is left alone — moved to its parent's parent if that goes, and
 *   restarted if it runs behind its proxy and its ancestors or descendants change; one unloaded by
 *   hand and still in the file is loaded again: the file says what runs);
 * - a plugin whose parent changed is moved (SetParent: it does not restart), unless it runs behind
 *   its own proxy (filtered, sandboxed), whose policy names its configured ancestors and
 *   descendants: such a node restarts whenever those change;
 * - a plugin whose `use`, `exec`, `cwd`, `config`, `dir`, `package`, `trust`, `sandbox` or
 *   `on_death` (given to the node at its start) changed restarts, alone;
 * - `restart:` (the policy) is taken as is, without a restart;
 * - networks: mouth/live-config.ts (added, removed, channels joined and parted, or that network
 *   alone reconnecting);
 * - what cannot change while the hive runs is refused, naming the key: `instance`, `bus`,
 *   `state_dir`, `log_level`, `command_prefix` (every node has the last three from its start),
 *   a terminal network coming or going, a remote node's settings other than its parent and policy.
 */
import { networkChanges, refusedChange, type NetworkChange } from '../protocol/network-changes.js';
import type { HiveConfig, PluginSpec } from './config.js';
import { treeOrder } from './tree-order.js';
import { ROOT, descendants, type Tree, type TreeNode } from './reparent.js';
import { ancestorsOf, trustOf } from './trust.js';

export type ReloadStep =
  | { do: 'load'; node: string; parent: string }
  | { do: 'unload'; node: string }
  /** keys: why (the spec's keys that changed, or `ancestors`/`descendants` for a node behind a proxy). */
  | { do: 'restart'; node: string; keys: string[] }
  | { do: 'move'; node: string; from: string; to: string }
  | { do: 'policy'; node: string }
  | { do: 'network'; change: NetworkChange };

export interface ReloadPlan {
  steps: ReloadStep[];
  /** Changes that cannot be made live: the whole reload is refused. */
  refused: { key: string; message: string }[];
}

/** A running node as the planner sees it: its spec, and whether it came from the config file. */
export interface RunningPlugin {
  spec: PluginSpec;
  fromFile: boolean;
}

const TOP_LEVEL_FIXED: { key: keyof HiveConfig; why: string }[] = [
  { key: 'instance', why: 'it names the hive on the bus and its runtime file' },
  { key: 'bus', why: 'every node is connected to it' },
  { key: 'state_dir', why: 'every node was given its folder in it at its start' },
  { key: 'log_level', why: 'every node was given it at its start' },
  { key: 'command_prefix', why: 'every node was given it at its start' },
];

/** The spec's keys that make the node restart when they change. */
const RESTART_KEYS = ['use', 'exec', 'cwd', 'config', 'dir', 'package', 'trust', 'sandbox', 'on_death', 'remote'] as const;

const same = (a: unknown, b: unknown) => canonical(a) === canonical(b);
function canonical(v: unknown): string {
  return JSON.stringify(v ?? null, (_k, x: unknown) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : x));
}

export function planReload(o: { running: Map<string, RunningPlugin>; tree: Tree; old: HiveConfig; next: HiveConfig }): ReloadPlan {
  const { running, old, next } = o;
  const refused: ReloadPlan['refused'] = [];
  for (const { key, why } of TOP_LEVEL_FIXED) {
    if (!same(old[key], next[key])) refused.push({ key, message: `cannot change while the hive runs (${why}); restart the hive (hive down, hive up) to change it` });
  }
  const steps: ReloadStep[] = [];
  const wanted = new Map(next.plugins.map((p) => [p.name, p]));

  // The tree after the reload: the file's nodes where the file puts them, hand-loaded ones where they are.
  const after = new Map<string, TreeNode>(o.tree);
  const unloads = [...running].filter(([name, r]) => r.fromFile && !wanted.has(name)).map(([name]) => name);
  for (const spec of next.plugins) after.set(spec.name, { parent: spec.parent, onDeath: spec.on_death });
  for (const name of unloads) {
    // Its hand-loaded children go to its parent (as Unload does); its children from the file were placed above.
    const parent = after.get(name)?.parent ?? ROOT;
    for (const [child, t] of after) if (t.parent === name && !wanted.has(child)) after.set(child, { ...t, parent });
    after.delete(name);
  }

  // Unloaded leaves first (the old tree's order, reversed), so no node is left under a gone parent.
  const oldOrder = [...o.tree.keys()];
  for (const name of unloads.sort((a, b) => oldOrder.indexOf(b) - oldOrder.indexOf(a))) steps.push({ do: 'unload', node: name });

  for (const spec of treeOrder(next)) {
    const cur = running.get(spec.name);
    if (!cur) { steps.push({ do: 'load', node: spec.name, parent: spec.parent }); continue; }
    const keys: string[] = RESTART_KEYS.filter((k) => !same(cur.spec[k], spec[k]));
    const remote = cur.spec.remote || spec.remote;
    const i = next.plugins.indexOf(spec);
    if (remote && keys.length > 0) {
      for (const k of keys) refused.push({ key: `plugins[${i}].${k}`, message: `a remote node's ${k} cannot change while the hive runs (its proxy and its host were set up for it); unload it (hive unload ${spec.name}) and reload` });
      continue;
    }
    const from = o.tree.get(spec.name)?.parent ?? ROOT;
    if (from !== spec.parent) steps.push({ do: 'move', node: spec.name, from, to: spec.parent });
    // Behind its own proxy, a node's policy names its configured ancestors and descendants.
    if (trustOf(spec) !== 'direct' && keys.length === 0) {
      if (!same(ancestorsOf(spec.name, o.tree), ancestorsOf(spec.name, after))) keys.push('ancestors');
      else if (!same(descendants(spec.name, o.tree).sort(), descendants(spec.name, after).sort())) keys.push('descendants');
      if (remote && keys.length > 0) {
        refused.push({ key: `plugins[${i}].parent`, message: `a remote node behind its proxy cannot be moved under other ancestors while the hive runs (its proxy's policy names them); unload it (hive unload ${spec.name}) and reload` });
        continue;
      }
    }
    if (keys.length > 0) steps.push({ do: 'restart', node: spec.name, keys });
    else if (!same(cur.spec.restart, spec.restart)) steps.push({ do: 'policy', node: spec.name });
  }

  // A node loaded by hand stays (under its parent's parent when that goes, as Unload does), but
  // one behind its own proxy restarts when its ancestors or descendants change, as a file's does.
  for (const [name, r] of running) {
    if (r.fromFile || wanted.has(name) || trustOf(r.spec) === 'direct') continue;
    const key = !same(ancestorsOf(name, o.tree), ancestorsOf(name, after)) ? 'ancestors'
      : !same(descendants(name, o.tree).sort(), descendants(name, after).sort()) ? 'descendants' : undefined;
    if (!key) continue;
    if (r.spec.remote) refused.push({ key: name, message: `a remote node loaded by hand behind its proxy would be moved under other ancestors (its proxy's policy names them); unload it (hive unload ${name}) first` });
    else steps.push({ do: 'restart', node: name, keys: [key] });
  }

  for (const change of networkChanges(old.networks, next.networks)) {
    const why = refusedChange(change, old.networks, next.networks);
    if (why) refused.push({ key: `networks.${change.network}`, message: why.replace(/^networks\.[^:]+: /, '') });
    else steps.push({ do: 'network', change });
  }
  return { steps, refused };
}

/** The plan as lines for a person (`hive reload --dry-run`, and what `hive reload` did). */
export function renderPlan(plan: ReloadPlan): string {
  const lines = plan.steps.map((s) => {
    switch (s.do) {
      case 'load': return `load     ${s.node} (under ${s.parent})`;
      case 'unload': return `unload   ${s.node}`;
      case 'restart': return `restart  ${s.node} (${s.keys.join(', ')} changed)`;
      case 'move': return `move     ${s.node}: ${s.from} -> ${s.to} (no restart)`;
      case 'policy': return `policy   ${s.node}: restart policy changed (no restart)`;
      case 'network': {
        const c = s.change;
        if (c.do === 'channels') return `network  ${c.network}: ${[...c.join.map((j) => `join ${j}`), ...c.part.map((p) => `part ${p}`)].join(', ') || 'channel keys'} (no reconnect)`;
        if (c.do === 'restart') return `network  ${c.network}: reconnect (${c.keys.join(', ')} changed; the other networks stay)`;
        return `network  ${c.network}: ${c.do === 'add' ? 'add (connect)' : 'remove (quit)'}`;
      }
    }
  });
  const refused = plan.refused.map((r) => `refused  \`${r.key}\`: ${r.message}`);
  return [...lines, ...refused].join('\n') + (lines.length || refused.length ? '\n' : 'nothing to change\n');
}
