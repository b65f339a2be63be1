/**
 * Metadata keys of a HiveMessage. Keys are namespaced: `hive.*` keys are defined here (and in
 * docs/protocol.md#metadata) and must have exactly the D-Bus type given; any other key must carry a
 * namespace of its own (`weather.city`), and its type is free. Only nodes set metadata: the mouth
 * builds it from what the server says, never from what an IRC user types.
 */
import { z } from 'zod';

export const META_KEYS = {
  'hive.id': { signature: 's', schema: z.string().min(1).max(128), doc: 'Unique id of this message, set by the node that made it.' },
  'hive.network': { signature: 's', schema: z.string().min(1).max(64), doc: 'Name of the network the message came from or goes to.' },
  'hive.time': { signature: 'd', schema: z.number().finite(), doc: 'Receive time in ms since the Unix epoch (IRCv3 server-time where the server gives it).' },
  'hive.nick': { signature: 's', schema: z.string().max(64), doc: "The bot's own current nick on that network." },
  'hive.reply_to': { signature: 's', schema: z.string().min(1).max(128), doc: 'The hive.id of the message this one answers. Every reply must carry it.' },
  'hive.seq': { signature: 't', schema: z.number().int().nonnegative(), doc: 'Per-network sequence number of an inbound message, set by the mouth; used for replay.' },
  'hive.path': { signature: 'as', schema: z.array(z.string().max(64)).max(64), doc: 'Names of the nodes the message passed, in order.' },
  'hive.tags': { signature: 'a{ss}', schema: z.record(z.string(), z.string()), doc: 'IRCv3 message tags of the line, unescaped.' },
  'hive.account': { signature: 's', schema: z.string().max(128), doc: "The speaker's services account (IRCv3 account-tag), where the server gives it." },
  'hive.event': { signature: 's', schema: z.enum(['connecting', 'registered', 'disconnected', 'nick', 'line']), doc: "What the mouth saw: 'line' for a line from the server, or one of its own connection events." },
  'hive.reason': { signature: 's', schema: z.string().max(512), doc: 'Why a network disconnected (with hive.event = disconnected).' },
  'hive.origin': { signature: 's', schema: z.string().max(64), doc: 'Name of the node that made an outbound message; filters pass it on unchanged. The mouth queues fairly by it.' },
  'hive.query': { signature: 'b', schema: z.boolean(), doc: 'Set on a synthetic message an aggregator sends down to ask its subtree; not real IRC traffic.' },
  'hive.replayed': { signature: 'b', schema: z.boolean(), doc: 'Set on a message a node got through Replay after it lost its parent, and on the replies to it; the mouth sends only the first reply to such a message.' },
  'hive.capabilities': { signature: 'as', schema: z.array(z.string().max(64)).max(256), doc: "Capabilities of the speaker, set by the auth filter (never trusted from above it)." },
} as const;

export type MetaKey = keyof typeof META_KEYS;

export type KnownMeta = { -readonly [K in MetaKey]?: z.infer<(typeof META_KEYS)[K]['schema']> };

/** Metadata as the SDK hands it to plugin code. Keys outside `hive.` keep their D-Bus Variant. */
export type Meta = KnownMeta & { [key: string]: unknown };

export function isKnownKey(key: string): key is MetaKey {
  return Object.prototype.hasOwnProperty.call(META_KEYS, key);
}

/** A key outside `hive.` must be `namespace.name`, lower case, so that plugins cannot collide with the core. */
export const CUSTOM_KEY_PATTERN = /^[a-z][a-z0-9_-]*\.[A-Za-z0-9_.-]+$/;
