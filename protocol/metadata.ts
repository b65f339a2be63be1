/**
 * Metadata keys of a HiveMessage. Keys are namespaced: `hive.*` keys are defined here (and in
 * docs/protocol.md#metadata) and must have exactly the D-Bus type given; any other key must carry a
 * namespace of its own (`weather.city`), and its type is free. Only nodes set metadata: the mouth
 * builds it from what the server says, never from what an IRC user types.
 *
 * The value rules (zod) are in metadata-schema.ts, loaded only by nodes that check what others
 * send them (validate.ts): zod costs a plugin process about 7 MB.
 */
import type { z } from 'zod';
import type { META_SCHEMAS } from './metadata-schema.js';

export const META_KEYS = {
  'hive.id': { signature: 's', doc: 'Unique id of this message, set by the node that made it.' },
  'hive.network': { signature: 's', doc: 'Name of the network the message came from or goes to.' },
  'hive.time': { signature: 'd', doc: 'Receive time in ms since the Unix epoch (IRCv3 server-time where the server gives it).' },
  'hive.nick': { signature: 's', doc: "The bot's own current nick on that network." },
  'hive.reply_to': { signature: 's', doc: 'The hive.id of the message this one answers. Every reply must carry it.' },
  'hive.seq': { signature: 't', doc: 'Per-network sequence number of an inbound message, set by the mouth; used for replay.' },
  'hive.path': { signature: 'as', doc: 'Names of the nodes the message passed, in order; up the tree each parent puts the child it came from last.' },
  'hive.tags': { signature: 'a{ss}', doc: 'IRCv3 message tags of the line, unescaped.' },
  'hive.account': { signature: 's', doc: "The speaker's services account (IRCv3 account-tag), where the server gives it." },
  'hive.event': { signature: 's', doc: "What the mouth saw: 'line' for a line from the server, or one of its own connection events." },
  'hive.reason': { signature: 's', doc: 'Why a network disconnected (with hive.event = disconnected).' },
  'hive.origin': { signature: 's', doc: 'Name of the node that made an outbound message; filters pass it on unchanged. Always on hive.path: a parent replaces one that is not with path[0].' },
  'hive.query': { signature: 'b', doc: 'Set on a synthetic message an aggregator sends down to ask its subtree; not real IRC traffic.' },
  'hive.replayed': { signature: 'b', doc: 'Set on a message a node got through Replay after it lost its parent, and on the replies to it; the mouth sends only the first reply to such a message.' },
  'hive.ctcp': { signature: 'b', doc: 'Set by a node on an outbound message whose PRIVMSG/NOTICE lines are meant to be CTCP; without it the mouth sends only ACTION.' },
  'hive.capabilities': { signature: 'as', doc: "Capabilities of the speaker, set by the auth filter (never trusted from above it)." },
  'hive.msgid': { signature: 's', doc: "The message's stable id on its network (XMPP: the room's or server's stanza-id, else origin-id, else the stanza's id); on an outbound message, the id to send it under (so it can be corrected or referred to later)." },
  'hive.reply_msgid': { signature: 's', doc: 'The hive.msgid of the message this one replies to (XMPP XEP-0461).' },
  'hive.replaces': { signature: 's', doc: 'The hive.msgid of the message this one corrects (XMPP XEP-0308 Last Message Correction).' },
  'hive.links': { signature: 'as', doc: 'URLs of attachments and links the message carries (XMPP XEP-0066 out-of-band data).' },
  'hive.history': { signature: 'b', doc: "Set on a room's history replayed when the bot joins: old lines, not fresh; the SDKs run no command for such a message." },
} as const;

export type MetaKey = keyof typeof META_KEYS;

export type KnownMeta = { -readonly [K in MetaKey]?: z.infer<(typeof META_SCHEMAS)[K]> };

/** Metadata as the SDK hands it to plugin code. Keys outside `hive.` keep their D-Bus Variant. */
export type Meta = KnownMeta & { [key: string]: unknown };

export function isKnownKey(key: string): key is MetaKey {
  return Object.prototype.hasOwnProperty.call(META_KEYS, key);
}

/** A key outside `hive.` must be `namespace.name`, lower case, so that plugins cannot collide with the core. */
export const CUSTOM_KEY_PATTERN = /^[a-z][a-z0-9_-]*\.[A-Za-z0-9_.-]+$/;
