/**
 * Routes (docs/protocol.md#routes): every Message signal carries, as its first argument, a route
 * key saying what the message is — `PRIVMSG.command.ping`, `PRIVMSG`, `JOIN`, `event.registered` —
 * so that a node can ask the bus daemon, with a match rule on that argument, for only the messages
 * it wants. A node that only answers commands is then never woken by the rest of the traffic.
 *
 * The mouth computes the key once; a node passing a message on unchanged passes its key on, and
 * only a node that makes or changes a message computes it again. Pure: no I/O.
 */
import type { WireMessage } from '../codec.js';
import { parseLine } from '../irc-line.js';
import { NODE_INTERFACE, NODE_PATH } from '../names.js';
import { parseCommand } from './command.js';

/** The namespace of the routes of commands to the bot: `PRIVMSG.command.<name>`. */
export const COMMAND_ROUTE = 'PRIVMSG.command.';

/** The route key of a command, as a plugin subscribes to it. */
export function commandRoute(name: string): string {
  return COMMAND_ROUTE + name.toLowerCase();
}

/** The route key of a message: what the mouth says it is (docs/protocol.md#routes). */
export function routeOf(wire: WireMessage, commandPrefix: string): string {
  // A D-Bus string may not hold NUL (the daemon drops a sender that sends one): a line a filter
  // made with one gets U+FFFD there, as the Python SDK does.
  return keyOf(wire, commandPrefix).replace(/\0/g, '\ufffd');
}

function keyOf(wire: WireMessage, commandPrefix: string): string {
  const [lines, meta] = wire;
  if (lines.length === 0) {
    const event = meta['hive.event']?.value;
    return typeof event === 'string' && event ? `event.${event}` : 'event';
  }
  const line = parseLine(lines[0]!);
  if (!line) return 'line';
  if (line.command === 'PRIVMSG') {
    const nick = meta['hive.nick']?.value;
    const cmd = parseCommand(line, typeof nick === 'string' ? nick : undefined, commandPrefix);
    if (cmd) return commandRoute(cmd.name);
  }
  return line.command;
}

/**
 * A pattern a node subscribes to: `K` is the key K exactly, `K.*` is K and every key under it
 * (`PRIVMSG.*`: every PRIVMSG, commands included; `event.*`: every mouth event).
 */
export function routeMatches(key: string, pattern: string): boolean {
  if (!pattern.endsWith('.*')) return key === pattern;
  const ns = pattern.slice(0, -2);
  return key === ns || (key.startsWith(ns) && key[ns.length] === '.');
}

export function matchesAny(key: string, patterns: readonly string[]): boolean {
  for (const p of patterns) if (routeMatches(key, p)) return true;
  return false;
}

// dbus-daemon takes arg0namespace only for a valid bus-name prefix (elements of [A-Za-z_-][A-Za-z0-9_-]*).
const NAMESPACE = /^[A-Za-z_-][A-Za-z0-9_-]*(\.[A-Za-z_-][A-Za-z0-9_-]*)*$/;

/** Whether a pattern can be a subscription: `K` any non-empty key, `K.*` only where the daemon takes K as a namespace. */
export function validPattern(pattern: string): boolean {
  if (pattern.length === 0 || pattern.length > 255 || pattern.includes('\0')) return false;
  return !pattern.endsWith('.*') || NAMESPACE.test(pattern.slice(0, -2));
}

/** A value quoted for a match rule: an apostrophe is written '\'' (D-Bus spec, "Match Rules"). */
function quoted(value: string): string {
  return `'${value.replace(/'/g, "'\\''")}'`;
}

/** The match rule for the Node1 signals of the connection `unique` (a parent): everything it emits. */
export function signalRule(unique: string): string {
  return `type='signal',sender='${unique}',path='${NODE_PATH}',interface='${NODE_INTERFACE}'`;
}

/** The match rule for one member of a parent's Node1 signals (Reparent, MoveChild). */
export function memberRule(unique: string, member: string): string {
  return `${signalRule(unique)},member='${member}'`;
}

/** The match rule for a parent's Message signals whose route matches `pattern`. */
export function routeRule(unique: string, pattern: string): string {
  const base = memberRule(unique, 'Message');
  return pattern.endsWith('.*') ? `${base},arg0namespace=${quoted(pattern.slice(0, -2))}` : `${base},arg0=${quoted(pattern)}`;
}

/**
 * What a node asks of its parent: everything, or the Reparent signal (always: a narrow node still
 * follows its parent) and the messages of the routes it wants.
 */
export function subscriptionRules(unique: string, wants: readonly string[] | 'all'): string[] {
  if (wants === 'all') return [signalRule(unique)];
  return [memberRule(unique, 'Reparent'), ...wants.map((p) => routeRule(unique, p))];
}
