/**
 * What changed between two `networks:` of a hive's config, network by network, as the mouth
 * applies it live (mouth/live-config.ts) and `hive reload` plans and shows it
 * (tree-supervisor/reload-plan.ts): one definition of what "only its channels changed" means.
 * Pure; the configs as parsed (mouth/network-config.ts), seen here by their shape only.
 */

/** A network's parsed config, by shape: its type and its settings. */
export type NetworkSettings = { type: string } & object;

/** What one network's change is: how the mouth applies it, and how `hive reload` shows it. */
export type NetworkChange =
  | { network: string; do: 'add' | 'remove' }
  | { network: string; do: 'channels'; join: string[]; part: string[] }
  /** keys: the top-level keys that differ (channels aside). */
  | { network: string; do: 'restart'; keys: string[] };

/** A value with its object keys sorted: two configs compare equal however their keys were ordered. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : x));
}

/**
 * A network's list of channels, which can change live (Network.setChannels): an IRC network's
 * `channels`, an XMPP network's `rooms` (as { name: the room's JID, key: its password }).
 */
const LIVE_LISTS: Record<string, string> = { irc: 'channels', xmpp: 'rooms' };

function liveList(c: NetworkSettings): { name: string; key?: string; rest: string }[] {
  const field = LIVE_LISTS[c.type];
  const list = field ? (c as unknown as Record<string, unknown>)[field] : undefined;
  if (!Array.isArray(list)) return [];
  return list.map((e: Record<string, unknown>) => {
    const { name, jid, key, password, ...rest } = e;
    const n = String(name ?? jid);
    const k = (key ?? password) as string | undefined;
    return { name: n, ...(k !== undefined && { key: k }), rest: canonical(rest) };
  });
}

/** The changes from `old` to `next`, by network name; networks that did not change are not listed. */
export function networkChanges(old: Record<string, NetworkSettings>, next: Record<string, NetworkSettings>): NetworkChange[] {
  const out: NetworkChange[] = [];
  for (const name of Object.keys(old)) if (!(name in next)) out.push({ network: name, do: 'remove' });
  for (const [name, cfg] of Object.entries(next)) {
    const was = old[name];
    if (!was) { out.push({ network: name, do: 'add' }); continue; }
    if (canonical(was) === canonical(cfg)) continue;
    const field = was.type === cfg.type ? LIVE_LISTS[cfg.type] : undefined;
    const keys = [...new Set([...Object.keys(was), ...Object.keys(cfg)])]
      .filter((k) => k !== field && canonical((was as Record<string, unknown>)[k]) !== canonical((cfg as Record<string, unknown>)[k])).sort();
    // setChannels takes a name and a key only: an entry kept whose other settings changed, or an
    // entry added with settings of its own (a room's own nick), makes that network reconnect.
    const before = new Map(liveList(was).map((c) => [c.name.toLowerCase(), c]));
    const after = new Map(liveList(cfg).map((c) => [c.name.toLowerCase(), c]));
    const plain = canonical({});
    if (field && [...after].some(([n, c]) => (before.has(n) ? before.get(n)!.rest !== c.rest : c.rest !== plain))) keys.push(field);
    if (keys.length > 0) { out.push({ network: name, do: 'restart', keys }); continue; }
    out.push({
      network: name, do: 'channels',
      join: [...after.values()].filter((c) => !before.has(c.name.toLowerCase())).map((c) => c.name),
      part: [...before.values()].filter((c) => !after.has(c.name.toLowerCase())).map((c) => c.name),
    });
  }
  return out;
}

/** The list setChannels takes for a network's config. */
export function channelsOf(c: NetworkSettings): { name: string; key?: string }[] {
  return liveList(c).map(({ name, key }) => (key !== undefined ? { name, key } : { name }));
}

/** Why a change cannot be made while the mouth runs, or undefined. */
export function refusedChange(change: NetworkChange, old: Record<string, NetworkSettings>, next: Record<string, NetworkSettings>): string | undefined {
  const terminal = (c: NetworkSettings | undefined) => c?.type === 'terminal';
  if (terminal(old[change.network]) || terminal(next[change.network])) {
    return `networks.${change.network}: a terminal network cannot be added, removed or changed while the hive runs (the mouth's stdin and stdout are set when it starts); restart the hive`;
  }
  return undefined;
}
