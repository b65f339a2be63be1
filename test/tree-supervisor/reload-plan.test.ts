// The plan of `hive reload` (tree-supervisor/reload-plan.ts) and the networks' diff
// (protocol/network-changes.ts), as pure functions: which change restarts what, what is refused.
import { describe, expect, it } from 'vitest';
import { parseConfig, type HiveConfig } from '../../tree-supervisor/config.js';
import { planReload, renderPlan, type RunningPlugin } from '../../tree-supervisor/reload-plan.js';
import { networkChanges } from '../../protocol/network-changes.js';
import type { Tree, TreeNode } from '../../tree-supervisor/reparent.js';

const IRC = { type: 'irc', host: 'irc.example', nick: 'bot', channels: ['#a', '#b'] };

function config(o: Record<string, unknown>): HiveConfig {
  return parseConfig({ networks: { net: IRC }, state_dir: '/tmp/x', ...o }, { baseDir: '/tmp' }).config;
}

/** What runs: the old config's plugins (all from the file) plus `extra` loaded by hand. */
function running(old: HiveConfig, extra: HiveConfig['plugins'] = []): { running: Map<string, RunningPlugin>; tree: Tree } {
  const r = new Map<string, RunningPlugin>();
  const tree = new Map<string, TreeNode>();
  for (const p of old.plugins) { r.set(p.name, { spec: p, fromFile: true }); tree.set(p.name, { parent: p.parent, onDeath: p.on_death }); }
  for (const p of extra) { r.set(p.name, { spec: p, fromFile: false }); tree.set(p.name, { parent: p.parent, onDeath: p.on_death }); }
  return { running: r, tree };
}

const steps = (p: ReturnType<typeof planReload>) => p.steps.map((s) => (s.do === 'network' ? `network ${s.change.network} ${s.change.do}` : s.do === 'restart' ? `restart ${s.node} ${s.keys.join(',')}` : s.do === 'move' ? `move ${s.node} ${s.from}->${s.to}` : `${s.do} ${s.node}`));

describe('planReload', () => {
  it('loads, unloads leaves first, restarts for a changed spec, moves for a parent, and takes a policy without a restart', () => {
    const old = config({ plugins: [{ name: 'a', use: 'ping' }, { name: 'b', use: 'echo', parent: 'a' }, { name: 'c', use: 'help', parent: 'b' }, { name: 'd', use: 'stats' }] });
    const next = config({ plugins: [{ name: 'a', use: 'ping', restart: { max: 1 } }, { name: 'd', use: 'stats', parent: 'a', config: { top: 3 } }, { name: 'e', use: 'echo', parent: 'd' }] });
    const plan = planReload({ ...running(old), old, next });
    expect(plan.refused).toEqual([]);
    expect(steps(plan)).toEqual(['unload c', 'unload b', 'policy a', 'move d mouth->a', 'restart d config', 'load e']);
    expect(renderPlan(plan)).toMatch(/^unload {3}c\n/);
  });

  it('leaves a node loaded by hand alone when its parent goes, unless it runs behind its proxy (its ancestors changed: restarted)', () => {
    const old = config({ plugins: [{ name: 'a', use: 'ping' }, { name: 'b', use: 'echo' }] });
    const next = config({ plugins: [{ name: 'b', use: 'echo' }] });
    // h (direct) and hx (filtered, an exec) under a, which goes; hb (filtered) under b, which stays.
    const hand = config({ plugins: [{ name: 'h', use: 'echo' }, { name: 'hx', exec: ['/bin/true'] }, { name: 'hb', exec: ['/bin/true'] }] }).plugins
      .map((p) => ({ ...p, parent: p.name === 'hb' ? 'b' : 'a' }));
    const plan = planReload({ ...running(old, hand), old, next });
    // No step for h or hb (nothing unloads or restarts them); hx restarts for its new ancestors.
    expect(steps(plan)).toEqual(['unload a', 'restart hx ancestors']);
    expect(plan.refused).toEqual([]);
    // A node the old file had but that was loaded by hand is not the file's: the file dropping it does nothing.
    const kept = planReload({ ...running(config({ plugins: [] }), hand.filter((p) => p.name === 'hb').map((p) => ({ ...p, parent: 'mouth' }))), old: config({ plugins: [] }), next: config({ plugins: [] }) });
    expect(steps(kept)).toEqual([]);
  });

  it('unloads a node from the file whose unload failed before, by its record, though the last file no longer has it', () => {
    const old = config({ plugins: [{ name: 'a', use: 'ping' }] });
    const next = config({ plugins: [] });
    // After a reload that failed to unload a: the hive's config is `next`, a still runs, its record says from the file.
    const plan = planReload({ ...running(old), old: next, next });
    expect(steps(plan)).toEqual(['unload a']);
  });

  it('restarts a node behind its proxy when its ancestors change, and refuses what cannot change live', () => {
    const old = config({ plugins: [{ name: 'a', use: 'ping' }, { name: 'x', exec: ['/bin/true'] }] });
    const next = config({ plugins: [{ name: 'a', use: 'ping' }, { name: 'x', exec: ['/bin/true'], parent: 'a' }] });
    expect(steps(planReload({ ...running(old), old, next }))).toEqual(['move x mouth->a', 'restart x ancestors']);

    const fixed = config({ instance: 'other', command_prefix: '?', plugins: old.plugins.map((p) => ({ name: p.name, ...(p.use ? { use: p.use } : { exec: p.exec }) })), networks: { net: IRC, console: { type: 'terminal' } } });
    const refused = planReload({ ...running(old), old, next: fixed }).refused.map((r) => r.key);
    expect(refused).toEqual(['instance', 'command_prefix', 'networks.console']);

    const remoteOld = config({ plugins: [{ name: 'r', remote: true }] });
    const remoteNext = config({ plugins: [{ name: 'r', remote: true, trust: 'direct' }] });
    expect(planReload({ ...running(remoteOld), old: remoteOld, next: remoteNext }).refused.map((r) => r.key)).toEqual(['plugins[0].trust']);
  });
});

describe('networkChanges', () => {
  const irc = (o: Record<string, unknown>) => config({ networks: { net: { ...IRC, ...o } } }).networks;
  it('tells channels only (names without case, a key change too) from anything else', () => {
    expect(networkChanges(irc({}), irc({ channels: ['#A', '#c'] }))).toEqual([{ network: 'net', do: 'channels', join: ['#c'], part: ['#b'] }]);
    expect(networkChanges(irc({}), irc({ channels: ['#a', { name: '#b', key: 'k' }] }))).toEqual([{ network: 'net', do: 'channels', join: [], part: [] }]);
    expect(networkChanges(irc({}), irc({ nick: 'other', channels: ['#a'] }))).toEqual([{ network: 'net', do: 'restart', keys: ['nick'] }]);
    expect(networkChanges(irc({}), irc({}))).toEqual([]);
    expect(networkChanges(irc({}), { ...irc({}), two: irc({})['net']! }).map((c) => c.do)).toEqual(['add']);
  });

  it('treats an XMPP network\'s rooms as its channels, and a room\'s own nick as a reconnect', () => {
    const xmpp = (rooms: unknown[]) => config({ networks: { x: { type: 'xmpp', jid: 'bot@example.org', password: 'p', rooms } } }).networks;
    expect(networkChanges(xmpp(['r1@muc.example.org']), xmpp(['r1@muc.example.org', { jid: 'r2@muc.example.org', password: 'k' }])))
      .toEqual([{ network: 'x', do: 'channels', join: ['r2@muc.example.org'], part: [] }]);
    expect(networkChanges(xmpp(['r1@muc.example.org']), xmpp([{ jid: 'r1@muc.example.org', nick: 'other' }])))
      .toEqual([{ network: 'x', do: 'restart', keys: ['rooms'] }]);
    expect(networkChanges(xmpp(['r1@muc.example.org']), xmpp(['r1@muc.example.org', { jid: 'r2@muc.example.org', nick: 'own' }])))
      .toEqual([{ network: 'x', do: 'restart', keys: ['rooms'] }]);
  });
});
