import { describe, expect, test } from 'vitest';
import {
  chooseNewParent,
  descendants,
  effectiveParents,
  liveStates,
  planConvergence,
  reattachments,
  startingParent,
  stopWaves,
  type NodeState,
  type NodeView,
  type OnDeath,
  type TreeNode,
  ROOT,
} from './reparent.js';

/** The tree of plugin specs, as the supervisor builds it from the config. */
function treeFromPlugins(plugins: Iterable<{ readonly name: string; readonly parent?: string; readonly on_death?: OnDeath }>): Map<string, TreeNode> {
  const tree = new Map<string, TreeNode>();
  for (const p of plugins) tree.set(p.name, { parent: p.parent ?? ROOT, onDeath: p.on_death ?? 'bypass' });
  return tree;
}

/**
 *            mouth
 *          /   |    \
 *       auth  log    far
 *      (hold)  |
 *        |    fmt
 *      ping
 *        |
 *      dice
 */
const plugins: { name: string; parent?: string; on_death?: OnDeath }[] = [
  { name: 'auth', on_death: 'hold' },
  { name: 'ping', parent: 'auth' },
  { name: 'dice', parent: 'ping' },
  { name: 'log' },
  { name: 'fmt', parent: 'log' },
  { name: 'far' },
];
const tree = treeFromPlugins(plugins);

function states(overrides: Record<string, NodeState> = {}): Map<string, NodeState> {
  const all = ['mouth', ...plugins.map((p) => p.name)];
  return new Map(all.map((n) => [n, overrides[n] ?? 'running']));
}

describe('treeFromPlugins', () => {
  test('defaults the parent to mouth and on_death to bypass', () => {
    expect(tree.get('log')).toEqual({ parent: 'mouth', onDeath: 'bypass' });
    expect(tree.get('auth')).toEqual({ parent: 'mouth', onDeath: 'hold' });
    expect(tree.get('ping')).toEqual({ parent: 'auth', onDeath: 'bypass' });
  });
});

describe('chooseNewParent', () => {
  test('a running configured parent is kept', () => {
    expect(chooseNewParent('fmt', tree, states())).toEqual({ parent: 'log' });
    expect(chooseNewParent('log', tree, states())).toEqual({ parent: 'mouth' });
  });

  test('children of a dead bypass node move up to the nearest running ancestor', () => {
    expect(chooseNewParent('fmt', tree, states({ log: 'restarting' }))).toEqual({ parent: 'mouth' });
    expect(chooseNewParent('dice', tree, states({ ping: 'failed' }))).toEqual({ parent: 'auth' });
  });

  test('several dead bypass ancestors are all skipped', () => {
    expect(chooseNewParent('dice', tree, states({ ping: 'stopped', auth: 'running' }))).toEqual({ parent: 'auth' });
  });

  test('a dead hold ancestor makes the subtree wait for it', () => {
    expect(chooseNewParent('ping', tree, states({ auth: 'restarting' }))).toEqual({ hold: true, holder: 'auth' });
  });

  test('a dead hold ancestor further up holds even past a dead bypass node', () => {
    expect(chooseNewParent('dice', tree, states({ ping: 'failed', auth: 'starting' }))).toEqual({ hold: true, holder: 'auth' });
  });

  test('a held ancestor keeps its subtree waiting, naming the dead holder above it', () => {
    // auth died and ping is held; dice's own parent ping is alive but must not take it elsewhere.
    expect(chooseNewParent('dice', tree, states({ auth: 'failed', ping: 'held' }))).toEqual({ hold: true, holder: 'auth' });
  });

  test('a node still marked held after its holder came back keeps its children (no churn)', () => {
    expect(chooseNewParent('dice', tree, states({ ping: 'held' }))).toEqual({ hold: true, holder: 'ping' });
  });

  test('when the mouth is not running everything waits for it', () => {
    expect(chooseNewParent('log', tree, states({ mouth: 'restarting' }))).toEqual({ hold: true, holder: 'mouth' });
    expect(chooseNewParent('fmt', tree, states({ mouth: 'starting', log: 'failed' }))).toEqual({ hold: true, holder: 'mouth' });
  });

  test('a node missing from the states counts as stopped', () => {
    const s = states();
    s.delete('log');
    expect(chooseNewParent('fmt', tree, s)).toEqual({ parent: 'mouth' });
  });

  test('an unknown node, an unknown parent or a cycle is an error, not a hang', () => {
    expect(() => chooseNewParent('nobody', tree, states())).toThrow(/not a node/);
    const broken = treeFromPlugins([{ name: 'a', parent: 'ghost' }]);
    expect(() => chooseNewParent('a', broken, new Map([['a', 'running']]))).toThrow(/ghost/);
    const loop = treeFromPlugins([
      { name: 'a', parent: 'b' },
      { name: 'b', parent: 'a' },
    ]);
    expect(() => chooseNewParent('a', loop, new Map())).toThrow(/cycle/);
  });
});

describe('effectiveParents', () => {
  test('with everything running it is exactly the configured tree', () => {
    const result = effectiveParents(tree, states());
    expect(Object.fromEntries(result)).toEqual({
      auth: { parent: 'mouth' },
      ping: { parent: 'auth' },
      dice: { parent: 'ping' },
      log: { parent: 'mouth' },
      fmt: { parent: 'log' },
      far: { parent: 'mouth' },
    });
  });

  test('dead nodes have no entry; their children are moved or held', () => {
    const result = effectiveParents(tree, states({ log: 'restarting', auth: 'failed', ping: 'held', dice: 'held' }));
    expect(result.has('log')).toBe(false);
    expect(result.has('auth')).toBe(false);
    expect(result.get('fmt')).toEqual({ parent: 'mouth' });
    expect(result.get('ping')).toEqual({ hold: true, holder: 'auth' });
    expect(result.get('dice')).toEqual({ hold: true, holder: 'auth' });
  });

  test('a starting node gets the parent it should attach to', () => {
    expect(effectiveParents(tree, states({ fmt: 'starting', log: 'stopped' })).get('fmt')).toEqual({ parent: 'mouth' });
  });

  test('the tree heals to the configured shape when the dead node comes back', () => {
    const configured = effectiveParents(tree, states());
    // log dies: fmt is moved to mouth.
    const during = effectiveParents(tree, states({ log: 'restarting' }));
    let attached = new Map<string, string | undefined>([...configured].map(([n, c]) => [n, 'parent' in c ? c.parent : undefined]));
    attached.delete('log');
    const away = reattachments(attached, during);
    expect(away).toEqual([{ node: 'fmt', from: 'log', to: 'mouth' }]);
    attached = new Map([...attached, ...away.map((m) => [m.node, m.to] as const)]);
    // log is back: fmt returns to it, nothing else moves.
    attached.set('log', 'mouth');
    const back = reattachments(attached, effectiveParents(tree, states()));
    expect(back).toEqual([{ node: 'fmt', from: 'mouth', to: 'log' }]);
  });
});

describe('reattachments', () => {
  test('only nodes whose attachment differs are moved, held nodes never', () => {
    const current = new Map<string, string | undefined>([
      ['a', 'mouth'],
      ['b', 'x'],
      ['c', undefined],
    ]);
    const target = new Map([
      ['a', { parent: 'mouth' }],
      ['b', { hold: true as const, holder: 'x' }],
      ['c', { parent: 'a' }],
    ]);
    expect(reattachments(current, target)).toEqual([{ node: 'c', from: undefined, to: 'a' }]);
  });
});

describe('descendants', () => {
  test('lists the whole subtree, parents before children', () => {
    expect(descendants('auth', tree)).toEqual(['ping', 'dice']);
    expect(descendants('mouth', tree)).toEqual(['auth', 'log', 'far', 'ping', 'fmt', 'dice']);
    expect(descendants('dice', tree)).toEqual([]);
  });
});

/** The supervisor's view: every node running and attached where configured, with `overrides`. */
function views(overrides: Record<string, Partial<NodeView>> = {}): Map<string, NodeView> {
  const all = new Map<string, NodeView>([['mouth', { state: 'running' }]]);
  for (const p of plugins) all.set(p.name, { state: 'running', current: p.parent ?? 'mouth' });
  for (const [n, o] of Object.entries(overrides)) all.set(n, { ...all.get(n)!, ...o });
  return all;
}

describe('planConvergence', () => {
  test('a tree in its configured shape needs no step', () => {
    expect(planConvergence(tree, views())).toEqual([]);
  });

  test('the children of a dead bypass node are moved to the nearest running ancestor', () => {
    expect(planConvergence(tree, views({ log: { state: 'restarting' } }))).toEqual([{ do: 'move', node: 'fmt', from: 'log', to: 'mouth' }]);
  });

  test('they are moved back once it runs again', () => {
    expect(planConvergence(tree, views({ fmt: { current: 'mouth' } }))).toEqual([{ do: 'move', node: 'fmt', from: 'mouth', to: 'log' }]);
  });

  test('the subtree of a dead hold node is held, not moved', () => {
    expect(planConvergence(tree, views({ auth: { state: 'restarting' } }))).toEqual([{ do: 'hold', node: 'ping', holder: 'auth' }]);
  });

  test('a node held already is not held again, and its children stay under it (a held node counts as running)', () => {
    expect(planConvergence(tree, views({ auth: { state: 'failed' }, ping: { state: 'held' } }))).toEqual([]);
    expect(liveStates(views({ ping: { state: 'held' } })).get('ping')).toBe('running');
  });

  test('a guard that is only starting up holds nothing yet', () => {
    expect(planConvergence(tree, views({ auth: { state: 'starting' } }))).toEqual([]);
  });

  test('a held node whose guard is back is released (and moved when it is not where it should be)', () => {
    expect(planConvergence(tree, views({ ping: { state: 'held' } }))).toEqual([{ do: 'release', node: 'ping' }]);
    expect(planConvergence(tree, views({ ping: { state: 'held', current: 'mouth' } }))).toEqual([
      { do: 'release', node: 'ping' },
      { do: 'move', node: 'ping', from: 'mouth', to: 'auth' },
    ]);
  });

  test('a node with a move in flight to its target is not moved again; one in flight elsewhere is', () => {
    expect(planConvergence(tree, views({ log: { state: 'stopped' }, fmt: { pending: 'mouth' } }))).toEqual([]);
    expect(planConvergence(tree, views({ fmt: { current: 'mouth', pending: 'mouth' } }))).toEqual([{ do: 'move', node: 'fmt', from: 'mouth', to: 'log' }]);
  });

  test('starting, stopped and failed nodes are left alone', () => {
    expect(planConvergence(tree, views({ log: { state: 'stopped' }, fmt: { state: 'starting', current: 'log' } }))).toEqual([]);
    expect(planConvergence(tree, views({ log: { state: 'stopped' }, fmt: { state: 'failed', current: 'log' } }))).toEqual([]);
  });

  test('a tree that is not one is an error, not a hang', () => {
    const loop = treeFromPlugins([{ name: 'a', parent: 'b' }, { name: 'b', parent: 'a' }]);
    expect(() => planConvergence(loop, new Map([['mouth', { state: 'running' }], ['a', { state: 'running' }]]))).toThrow(/cycle/);
  });
});

describe('startingParent', () => {
  test('a node starts under its nearest running ancestor, or, held, under its configured parent', () => {
    expect(startingParent('fmt', tree, views())).toBe('log');
    expect(startingParent('fmt', tree, views({ log: { state: 'restarting' } }))).toBe('mouth');
    expect(startingParent('ping', tree, views({ auth: { state: 'failed' } }))).toBe('auth');
  });
});

describe('stopWaves', () => {
  test('the deepest nodes first, the mouth last', () => {
    expect(stopWaves(tree)).toEqual([['dice'], ['ping', 'fmt'], ['auth', 'log', 'far'], ['mouth']]);
  });

  test('a node the root does not lead to is stopped first', () => {
    const broken = treeFromPlugins([{ name: 'a' }, { name: 'b', parent: 'c' }, { name: 'c', parent: 'b' }]);
    expect(stopWaves(broken)).toEqual([['b', 'c', 'a'], ['mouth']]);
  });
});
