/**
 * How far each node is trusted (docs/security.md, docs/config.md#trust), as pure functions of
 * the config: `direct` (on the bus itself: the mouth and built-in plugins unless told otherwise),
 * `filtered` (through its own xdg-dbus-proxy: `exec:` and `remote:` nodes by default) or
 * `sandboxed` (filtered, and run under bwrap: opt-in with `sandbox:`). The proxy's policy needs the
 * node's configured ancestors (who may become its parent) and descendants (whose names it may hold).
 */
import { ROOT, type Tree } from './reparent.js';

// A node's configured descendants are reparent.ts's `descendants` (one walk of the tree, not two).

export type Trust = 'direct' | 'filtered' | 'sandboxed';

export interface SandboxSettings {
  /** Whether the node keeps the network (default: no network at all). */
  network: boolean;
  /** More directories it may read (absolute once the config is loaded). */
  read_only: string[];
}

interface TrustSpec {
  use?: string;
  remote?: boolean;
  trust?: 'direct' | 'filtered';
  sandbox?: boolean | Partial<SandboxSettings>;
}

/** The mouth (no spec) is always direct: it holds the networks. */
export function trustOf(spec: TrustSpec | undefined): Trust {
  if (!spec) return 'direct';
  if (spec.sandbox !== undefined && spec.sandbox !== false) return 'sandboxed';
  return spec.trust ?? (spec.use ? 'direct' : 'filtered');
}

/** The sandbox settings of a sandboxed node, defaults filled in. */
export function sandboxOf(spec: TrustSpec): SandboxSettings | undefined {
  if (spec.sandbox === undefined || spec.sandbox === false) return undefined;
  const s = spec.sandbox === true ? {} : spec.sandbox;
  return { network: s.network ?? false, read_only: s.read_only ?? [] };
}

/** Its configured ancestors, nearest first, up to and including the mouth. */
export function ancestorsOf(name: string, tree: Tree): string[] {
  const out: string[] = [];
  let at = tree.get(name)?.parent;
  while (at !== undefined && !out.includes(at)) {
    out.push(at);
    if (at === ROOT) break;
    at = tree.get(at)?.parent;
  }
  return out;
}
