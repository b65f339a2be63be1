/**
 * The shape of each network in the config's `networks:` (IRC, XMPP, the terminal and the scripted one): owned by the mouth,
 * which runs them, and imported by the supervisor, which checks the whole config before starting
 * anything. Pure zod schemas; the types are inferred from them.
 */
import { z } from 'zod';
import { CROSS_FIELD } from '../protocol/cross-field.js';
import { durationSchema } from '../protocol/duration-schema.js';

/** RFC 2812 nick characters; servers allow longer nicks than the RFC's 9. */
const NICK = /^[A-Za-z[\]\\`_^{|}][A-Za-z0-9[\]\\`_^{|}-]{0,31}$/;
export const nickSchema = z.string().regex(NICK, {
  error: 'expected an IRC nick (letters, digits and []\\`_^{|}-, not starting with a digit or -)',
});

const CHANNEL = /^[#&+!][^\s,\x07\0]{1,199}$/;
const channelNameSchema = z.string().regex(CHANNEL, { error: 'expected a channel name like "#hive"' });

/** "#chan" or { name, key }; always { name, key? } after parsing so the mouth sees one shape. */
export const channelSchema = z.union([
  channelNameSchema.transform((name): { name: string; key?: string } => ({ name })),
  z
    .object({
      name: channelNameSchema,
      key: z.string().regex(/^[^\s,]+$/, { error: 'expected a channel key without spaces or commas' }).optional(),
    })
    .strict(),
]);

export const saslSchema = z
  .object({
    mechanism: z.enum(['PLAIN', 'EXTERNAL']),
    account: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    /** While registered without an account, how often to ask the server again whether SASL is offered (services may be back). */
    retry: durationSchema.default(60_000),
  })
  .strict();

/** Used when `flood` or one of its fields is omitted, or `rate` is 0: 5 lines at once, then one per 2 s. */
export const IRC_FLOOD_DEFAULTS = { burst: 5, rate: 0.5 } as const;

const floodSchema = z
  .object({
    burst: z.number().int().min(1).optional(),
    /** Lines per second once the burst is spent; 0 means "the default". */
    rate: z.number().min(0).optional(),
  })
  .strict()
  .prefault({})
  .transform((f) => ({ burst: f.burst ?? IRC_FLOOD_DEFAULTS.burst, rate: f.rate || IRC_FLOOD_DEFAULTS.rate }));

const reconnectSchema = z
  .object({
    min_delay: durationSchema.default(1_000),
    max_delay: durationSchema.default(120_000),
    /** The backoff starts again from min_delay only after a connection stayed registered this long. */
    stable_after: durationSchema.default(60_000),
  })
  .strict()
  .refine((r) => r.min_delay <= r.max_delay, { error: 'min_delay must not be greater than max_delay', path: ['min_delay'], params: CROSS_FIELD })
  .prefault({});

const ircObjectSchema = z
  .object({
    type: z.literal('irc'),
    host: z.string().min(1),
    /** Default 6697 with TLS, else 6667. */
    port: z.number().int().min(1).max(65535).optional(),
    tls: z.boolean().default(false),
    tls_verify: z.boolean().default(true),
    /** A CA to trust (self-signed or own CA); resolved against the config directory. */
    ca_file: z.string().min(1).optional(),
    /** Client certificate and key, for SASL EXTERNAL (CertFP); resolved like ca_file. */
    client_cert: z.string().min(1).optional(),
    client_key: z.string().min(1).optional(),
    /** Server password (PASS). */
    password: z.string().optional(),
    nick: nickSchema,
    alt_nicks: z.array(nickSchema).default([]),
    username: z.string().regex(/^[^\s@]+$/, { error: 'expected a username without spaces or @' }).optional(),
    realname: z.string().optional(),
    sasl: saslSchema.optional(),
    channels: z.array(channelSchema).default([]),
    /** Replaces the mouth's outbound command allow-list; upper-cased. */
    allow_commands: z
      .array(z.string().regex(/^[A-Za-z]+$|^\d{3}$/, { error: 'expected an IRC command like PRIVMSG' }).transform((c) => c.toUpperCase()))
      .optional(),
    flood: floodSchema,
    queue_max: z.number().int().min(1).default(500),
    reconnect: reconnectSchema,
    rejoin_delay: durationSchema.default(5_000),
    ping_timeout: durationSchema.default(120_000),
    /** How often to try for the wanted nick while the bot has an alternate. */
    nick_regain: durationSchema.default(30_000),
  })
  .strict()
  // Combinations the server would reject later, less readably.
  .superRefine((n, ctx) => {
    if (n.sasl?.mechanism === 'PLAIN') {
      for (const key of ['account', 'password'] as const) {
        if (!n.sasl[key]) ctx.addIssue({ code: 'custom', path: ['sasl', key], message: `is required for SASL PLAIN`, params: CROSS_FIELD });
      }
    }
    if (n.sasl?.mechanism === 'EXTERNAL') {
      if (!n.tls) ctx.addIssue({ code: 'custom', path: ['tls'], message: 'must be true for SASL EXTERNAL (it authenticates by the TLS client certificate)', params: CROSS_FIELD });
      if (!n.client_cert) ctx.addIssue({ code: 'custom', path: ['client_cert'], message: 'is required for SASL EXTERNAL', params: CROSS_FIELD });
    }
    if (n.client_key && !n.client_cert) ctx.addIssue({ code: 'custom', path: ['client_key'], message: 'is given without client_cert', params: CROSS_FIELD });
  });

export const ircNetworkSchema = ircObjectSchema.transform((n) => ({ ...n, port: n.port ?? (n.tls ? 6697 : 6667) }));

export const terminalNetworkSchema = z
  .object({
    type: z.literal('terminal'),
    channel: channelNameSchema.default('#console'),
    user: nickSchema.default('you'),
    nick: nickSchema.default('hive'),
    /** How long output must be quiet before the prompt is redrawn. */
    quiet_ms: durationSchema.default(300),
  })
  .strict();

/**
 * The scripted network (mouth/script-network.ts): a program (a plugin's test, through hive/testing)
 * speaks as any user on a unix socket and reads what the bot sends. The socket's path is absolute
 * (the mouth's working directory is not the config's) and short enough for sun_path (108 bytes).
 */
export const scriptNetworkSchema = z
  .object({
    type: z.literal('script'),
    socket: z
      .string()
      .refine((p) => p.startsWith('/'), { error: 'expected an absolute path for the socket' })
      .refine((p) => Buffer.byteLength(p) <= 107, { error: 'expected a socket path of at most 107 bytes (the limit of a unix socket address)' }),
    nick: nickSchema.default('hive'),
    channel: channelNameSchema.default('#test'),
    /** Lines the bot sends while no client is connected, kept for the next one (the oldest go first). */
    backlog: z.number().int().min(0).max(100_000).default(1000),
  })
  .strict();

/** A bare JID `local@domain` (RFC 7622's forbidden characters kept out; bounded). */
const BARE_JID = /^[^\s"&'/:<>@]{1,256}@[^\s"&'/:<>@]{1,256}$/;
const bareJidSchema = z.string().regex(BARE_JID, { error: 'expected a bare JID like "hive@example.org"' });
/** A MUC room's JID, `room@conference.example.org`: its channel in Hive is `#room@conference.example.org`. */
const roomJidSchema = z.string().regex(BARE_JID, { error: 'expected a room JID like "room@conference.example.org"' }).transform((j) => j.toLowerCase());
/** The bot's nick in a room (XMPP allows more than IRC, but plugins recognise it as an IRC nick: "hive: ping"). */
const roomNickSchema = nickSchema;

/** "room@conference…" or { jid, password, nick }; always { jid, password?, nick? } after parsing. */
export const roomSchema = z.union([
  roomJidSchema.transform((jid): { jid: string; password?: string; nick?: string } => ({ jid })),
  z.object({ jid: roomJidSchema, password: z.string().min(1).optional(), nick: roomNickSchema.optional() }).strict(),
]);

/** Used when `flood` or one of its fields is omitted, or `rate` is 0: 5 messages at once, then one per second. */
export const XMPP_FLOOD_DEFAULTS = { burst: 5, rate: 1 } as const;

const xmppFloodSchema = z
  .object({ burst: z.number().int().min(1).optional(), rate: z.number().min(0).optional() })
  .strict()
  .prefault({})
  .transform((f) => ({ burst: f.burst ?? XMPP_FLOOD_DEFAULTS.burst, rate: f.rate || XMPP_FLOOD_DEFAULTS.rate }));

const xmppObjectSchema = z
  .object({
    type: z.literal('xmpp'),
    /** The bot's account, `local@domain`; the resource is `resource`. */
    jid: bareJidSchema,
    password: z.string().min(1),
    /** Default: the JID's domain. */
    host: z.string().min(1).optional(),
    /** Default 5222, or 5223 with tls: direct. */
    port: z.number().int().min(1).max(65535).optional(),
    /** starttls: plain TCP upgraded by STARTTLS (required: a server that does not offer it is refused); direct: TLS from the first byte (XEP-0368); none: no TLS (loopback tests only). */
    tls: z.enum(['starttls', 'direct', 'none']).default('starttls'),
    tls_verify: z.boolean().default(true),
    /** A CA to trust (self-signed or own CA); resolved against the config directory. */
    ca_file: z.string().min(1).optional(),
    resource: z.string().regex(/^[^\s/]{1,64}$/, { error: 'expected a resource of 1-64 characters without spaces or /' }).default('hive'),
    /** The bot's nick in rooms (a room may set its own); default: the JID's localpart when it is a valid IRC nick, else "hive". */
    nick: nickSchema.optional(),
    rooms: z.array(roomSchema).default([]),
    /** Room services (`conference.example.net`) that may tell an occupant's real JID (hive.account) for any server's users; the bot's own server and its subdomains always may, any service for its own domain's users. */
    trusted_room_services: z.array(z.string().min(1).max(256).transform((h) => h.toLowerCase())).max(100).default([]),
    flood: xmppFloodSchema,
    queue_max: z.number().int().min(1).default(500),
    /** The largest message body the bot sends or takes (UTF-8 bytes); beyond it an outbound message is refused (LineTooLong) and an inbound one dropped and counted. */
    max_message_bytes: z.number().int().min(512).max(262_144).default(16_384),
    reconnect: reconnectSchema,
    /** How long after a kick the bot joins the room again. */
    rejoin_delay: durationSchema.default(5_000),
    /** A connection (or a resumed stream) that is not online within this long is dropped. */
    connect_timeout: durationSchema.default(30_000),
    /** A connection the server says nothing on for half this long is pinged (XEP-0199); without an answer within the other half it is dropped. */
    ping_timeout: durationSchema.default(120_000),
  })
  .strict()
  .superRefine((n, ctx) => {
    const seen = new Set<string>();
    n.rooms.forEach((r, i) => {
      if (seen.has(r.jid)) ctx.addIssue({ code: 'custom', path: ['rooms', i], message: `room ${r.jid} is listed twice`, params: CROSS_FIELD });
      seen.add(r.jid);
    });
  });

export const xmppNetworkSchema = xmppObjectSchema.transform((n) => {
  const [local = '', domain = ''] = n.jid.split('@');
  return {
    ...n,
    host: n.host ?? domain,
    port: n.port ?? (n.tls === 'direct' ? 5223 : 5222),
    nick: n.nick ?? (NICK.test(local) ? local : 'hive'),
  };
});

export const networkSchema = z.discriminatedUnion('type', [ircNetworkSchema, terminalNetworkSchema, scriptNetworkSchema, xmppNetworkSchema]);

export type NetworkConfig = z.infer<typeof networkSchema>;
export type IrcNetworkConfig = z.infer<typeof ircNetworkSchema>;
export type TerminalNetworkConfig = z.infer<typeof terminalNetworkSchema>;
export type ScriptNetworkConfig = z.infer<typeof scriptNetworkSchema>;
export type XmppNetworkConfig = z.infer<typeof xmppNetworkSchema>;
export type XmppRoomConfig = z.infer<typeof roomSchema>;

/**
 * One line the bot sent on the scripted network, as its client reads it (a JSON line): the wire
 * contract of that network, here so that hive/testing (tree-supervisor/testing.ts) reads the same type.
 */
export interface ScriptSent {
  /** The raw line, e.g. `PRIVMSG #test :pong`. */
  sent: string;
  command: string;
  target?: string;
  /** The text of a PRIVMSG or NOTICE. */
  text?: string;
  /** The hive.id of the line it answers, and the node that made it. */
  reply_to?: string;
  origin?: string;
  via?: string;
  /** The message the line belongs to (lines of one message share it; counted from 1) and whether it is its last line. */
  message: number;
  last: boolean;
  /** The message's metadata (hive.* keys and the plugin's own). */
  meta: Record<string, unknown>;
}
export type ChannelConfig = z.infer<typeof channelSchema>;
