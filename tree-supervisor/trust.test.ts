import { describe, expect, it } from 'vitest';
import { descendants as descendantsOf, ROOT, type OnDeath, type TreeNode } from './reparent.js';
import { ancestorsOf, sandboxOf, trustOf } from './trust.js';

/** The tree of plugin specs, as the supervisor builds it from the config. */
function treeFromPlugins(plugins: Iterable<{ readonly name: string; readonly parent?: string; readonly on_death?: OnDeath }>): Map<string, TreeNode> {
  const tree = new Map<string, TreeNode>();
  for (const p of plugins) tree.set(p.name, { parent: p.parent ?? ROOT, onDeath: p.on_death ?? 'bypass' });
  return tree;
}


describe('trust', () => {
  it('built-ins are direct, exec and remote nodes filtered, unless the config says otherwise', () => {
    expect(trustOf(undefined)).toBe('direct');
    expect(trustOf({ use: 'ping' })).toBe('direct');
    expect(trustOf({})).toBe('filtered');
    expect(trustOf({ remote: true })).toBe('filtered');
    expect(trustOf({ use: 'ping', trust: 'filtered' })).toBe('filtered');
    expect(trustOf({ trust: 'direct' })).toBe('direct');
  });
  it('a sandbox implies filtered, with no network and no extra paths by default', () => {
    expect(trustOf({ use: 'ping', sandbox: true })).toBe('sandboxed');
    expect(trustOf({ sandbox: false })).toBe('filtered');
    expect(sandboxOf({ sandbox: true })).toEqual({ network: false, read_only: [] });
    expect(sandboxOf({ sandbox: { network: true } })).toEqual({ network: true, read_only: [] });
    expect(sandboxOf({})).toBeUndefined();
  });
  it('ancestors nearest first up to the mouth; descendants at any depth', () => {
    const tree = treeFromPlugins([{ name: 'auth' }, { name: 'dice', parent: 'auth' }, { name: 'sh', parent: 'dice' }, { name: 'ping' }]);
    expect(ancestorsOf('sh', tree)).toEqual(['dice', 'auth', 'mouth']);
    expect(ancestorsOf('ping', tree)).toEqual(['mouth']);
    expect(descendantsOf('auth', tree)).toEqual(['dice', 'sh']);
    expect(descendantsOf('ping', tree)).toEqual([]);
  });
});
