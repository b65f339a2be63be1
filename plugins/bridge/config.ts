/**
 * The bridge's config and the lookup built from it. A group is a list of `network/#channel`
 * endpoints that see each other's talk. A channel may belong to one group only: in two groups it
 * would join them into one anyway (everything said there goes to both), only less visibly, so the
 * config must say so by merging them.
 */
import { z } from 'zod';
import { ircLower, NAME_PATTERN } from '../../protocol/sdk/index.js';

/** The network part follows the hive's network names, the channel part the config's channel names. */
const ENDPOINT = /^([A-Za-z][A-Za-z0-9_]{0,63})\/([#&+!][^\s,\x07\0]{1,199})$/;
const NICK = /^[A-Za-z[\]\\`_^{|}][A-Za-z0-9[\]\\`_^{|}-]{0,63}$/;

const endpointSchema = z.string().regex(ENDPOINT, { error: 'expected "network/#channel", e.g. "libera/#hive"' });
const networkSchema = z.string().regex(NAME_PATTERN, { error: 'expected a network name from networks: (letters, digits and _)' });

export const configSchema = z
  .object({
    groups: z
      .record(z.string().min(1).max(64), z.array(endpointSchema).min(2, { error: 'a group needs at least two channels to relay between' }))
      .refine((g) => Object.keys(g).length > 0, { error: 'expected at least one group, e.g. { devs: ["libera/#hive", "console/#console"] }' }),
    events: z
      .object({
        joins: z.boolean().default(false),
        parts: z.boolean().default(false),
        quits: z.boolean().default(false),
        nicks: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    /** Relay NOTICEs from users (sent on as NOTICEs). Off by default: notices are mostly bots and services talking. */
    notices: z.boolean().default(false),
    /** Colour each nick by a hash of it. */
    colours: z.boolean().default(true),
    /** Networks that get no colour codes (the terminal prints them raw). */
    plain: z.array(networkSchema).default([]),
    /** A zero-width space inside relayed nicks, so they do not highlight anyone. */
    no_highlight: z.boolean().default(true),
    /**
     * Lines of one message relayed to an IRC channel at most (a multi-line XMPP message); past it,
     * the last line says how many more there were. A room gets the whole message.
     */
    max_lines: z.number().int().min(1).max(100).default(10),
    /**
     * IRC networks with a channel named like an XMPP room (#a@b is a legal IRC channel): none of
     * their channels is taken for a room (no ids, IRC's formatting, max_lines).
     */
    irc_networks: z.array(networkSchema).default([]),
    /** Nicks never relayed (other relay bots: two bridges in one channel would feed each other). */
    ignore: z.array(z.string().regex(NICK, { error: 'expected an IRC nick' })).default([]),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const seen = new Map<string, string>();
    for (const [group, list] of Object.entries(cfg.groups)) {
      list.forEach((spec, i) => {
        const ep = parseEndpoint(spec);
        if (!ep) return; // already reported by the regex
        const key = endpointKey(ep.network, ep.channel);
        const first = seen.get(key);
        if (first !== undefined) {
          const message = first === group
            ? `"${spec}" is listed twice in group ${group}`
            : `"${spec}" is already in group ${first}; a channel belongs to one group (merge the groups to bridge them all)`;
          ctx.addIssue({ code: 'custom', path: ['groups', group, i], message });
        } else {
          seen.set(key, group);
        }
      });
    }
  });

export type BridgeConfig = z.infer<typeof configSchema>;

export interface Endpoint {
  group: string;
  network: string;
  /** As written in the config (the case the bot sends with). */
  channel: string;
}

export function parseEndpoint(spec: string): { network: string; channel: string } | undefined {
  const m = ENDPOINT.exec(spec);
  return m ? { network: m[1]!, channel: m[2]! } : undefined;
}

/** Channel names are case-insensitive; network names are the config's keys and are not. */
export function endpointKey(network: string, channel: string): string {
  return `${network}\0${ircLower(channel)}`;
}

export interface Routes {
  /** The endpoint a channel on a network is, if it is bridged. */
  find(network: string, channel: string): Endpoint | undefined;
  /** The other endpoints of the group `from` is in. */
  others(from: Endpoint): Endpoint[];
  /** Every bridged endpoint. */
  all: Endpoint[];
}

export function buildRoutes(groups: Record<string, string[]>): Routes {
  const byKey = new Map<string, Endpoint>();
  const byGroup = new Map<string, Endpoint[]>();
  for (const [group, list] of Object.entries(groups)) {
    const eps: Endpoint[] = [];
    for (const spec of list) {
      const p = parseEndpoint(spec);
      if (!p) throw new Error(`bad endpoint ${JSON.stringify(spec)}`);
      const ep = { group, ...p };
      byKey.set(endpointKey(p.network, p.channel), ep);
      eps.push(ep);
    }
    byGroup.set(group, eps);
  }
  return {
    find: (network, channel) => byKey.get(endpointKey(network, channel)),
    others: (from) => (byGroup.get(from.group) ?? []).filter((e) => e !== from),
    all: [...byKey.values()],
  };
}
