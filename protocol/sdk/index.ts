/** The TypeScript SDK for Hive nodes: everything a plugin imports. */
export { HiveNode, type Kind, type ChildInfo, type NodeOptions, type DetailValue } from './node.js';
export { runPlugin, installShutdown, EXIT } from './run.js';
export type { PluginContext, Manifest, CommandSpec, Command, Incoming, Answer, FilterHooks, FilterResult } from './plugin.js';
export { readNodeEnv } from './environment.js';
export { writeFileAtomic, readJsonFile } from './state-file.js';
export { HiveError } from '../errors.js';
export { line, newMessageId, type HiveMessage } from '../hive-message.js';
export { parseLine, privmsg, notice, isChannel, ircLower, type IrcLine } from '../irc-line.js';
export type { Meta } from '../metadata.js';
export { openStore, type Store } from './store.js';
export { hasCapability, capabilitiesOf } from './capabilities.js';
export { ChannelMembers } from './channel-members.js';
export { parseCommand, type ParsedCommand } from './command.js';
export { durationSchema, parseDuration, tryParseDuration, parseDurationText, formatDuration } from '../duration.js';
export { backoffDelay, type BackoffOptions } from '../backoff.js';
export { createTokenBucket, type TokenBucket, type TokenBucketOptions } from '../token-bucket.js';
