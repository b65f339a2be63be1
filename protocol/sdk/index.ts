/**
 * The TypeScript SDK for Hive plugins (`hive/sdk`): the plugin API and the helpers plugins share.
 * The runtime behind it (HiveNode, the process runner, exit codes) is not part of it: the mouth
 * and the tests import those from their own modules (node.js, run.js).
 */
export { definePlugin, type Plugin, type PluginManifest, type Setup } from './define.js';
// Config and state checks without zod (zod costs a plugin process ~8 MB): `c.object({...})`.
export { c, type Check, type StandardSchemaV1 } from './checks.js';
export type { PluginContext, Manifest, PluginKind, ConfigOf, CommandSpec, CommandHandler, Command, Answer, FilterHooks, FilterResult, MessageSubscription } from './plugin.js';
export { toIncoming, privmsgLines, textsOf, type Incoming } from './messages.js';
export type { Kind, ChildInfo, DetailValue } from './node.js';
export { HELP_LIMITS, checkCommands, type CheckedCommands, type NodeCommands, type TreeCommands } from './tree-commands.js';
export { writeFileAtomic, readJsonFile } from './state-file.js';
export { openStore, type Store } from './store.js';
export { Recent } from './recent.js';
export { hasCapability, capabilitiesOf } from './capabilities.js';
export { ChannelMembers } from './channel-members.js';
export { parseCommand, type ParsedCommand } from './command.js';
export { HiveError } from '../errors.js';
export { line, newMessageId, type HiveMessage } from '../hive-message.js';
export { parseLine, privmsg, notice, isChannel, ircLower, type IrcLine } from '../irc-line.js';
export type { Meta } from '../metadata.js';
export { NAME_PATTERN } from '../names.js';
export { createLogLimiter, type LogLimiter } from '../log-limit.js';
export { parseDuration, tryParseDuration, parseDurationText, formatDuration } from '../duration.js';
export { backoffDelay, type BackoffOptions } from '../backoff.js';
export { createTokenBucket, type TokenBucket, type TokenBucketOptions } from '../token-bucket.js';
