/**
 * The TypeScript plugin API: the context a plugin's set-up function receives (define.ts makes the
 * plugin, run.ts runs it). The context turns the node runtime's raw messages into parsed ones once,
 * builds replies that carry what docs/protocol.md#replies asks for (network, hive.reply_to), and
 * gives plugins the few runtime things they need (counters, the attached event, the commands of
 * the tree) so that no plugin touches the node itself.
 */
import type { Logger } from 'pino';
import type { z } from 'zod';
import { decode, encode, type WireMessage } from '../codec.js';
import { HiveError } from '../errors.js';
import { line as toLine, newMessageId, type HiveMessage } from '../hive-message.js';
import { privmsg } from '../irc-line.js';
import type { Meta } from '../metadata.js';
import { argsBytesOf, parseCommand, type ParsedCommand } from './command.js';
import { privmsgLines, textsOf, toIncoming, type Incoming } from './messages.js';
import { commandRoute, matchesAny, validPattern } from './routes.js';
import type { ChildInfo, DetailValue, HiveNode, Kind } from './node.js';
import { hiveCommands, subtreeCommands, type TreeCommands } from './tree-commands.js';

export type { Incoming } from './messages.js';

export type PluginKind = Exclude<Kind, 'mouth'>;

export interface CommandSpec {
  /** One line of help, shown by `help` and in the node's Commands property. */
  help: string;
  /** Pairs of what a user says and what the bot answers, for readers of the code and for tests. */
  examples?: [said: string, answer: string][];
}

/** What a plugin is: its name, kind and the shape of its `config:`. */
export interface Manifest<S extends z.ZodType | undefined = z.ZodType | undefined> {
  name: string;
  kind: PluginKind;
  description?: string;
  /** The shape of the plugin's `config:`; checked before the plugin starts (a mismatch exits 2). */
  config?: S;
  /**
   * Commands declared apart from their handlers (the runtime's own test fixtures do this, handlers
   * then come with `hive.command(name, handler)`). A plugin declares each command once, with its
   * handler: `hive.command(name, { help, examples }, handler)`.
   */
  commands?: Record<string, CommandSpec>;
}

/** The plugin's config as its schema gives it (an object of anything without a schema). */
export type ConfigOf<S> = S extends z.ZodType ? z.output<S> : Record<string, unknown>;

export interface Command extends ParsedCommand {
  network: string;
  message: Incoming;
  /** `args` as the very bytes the user sent (not re-encoded: invalid UTF-8 stays as it was). */
  readonly argsBytes: Buffer;
  /**
   * Replies where the command came from; several lines (or a text with newlines) go out together.
   * A Buffer is sent as those bytes. Text with a CTCP \x01 other than ACTION is refused by the
   * mouth (CtcpNotAllowed) unless the message sets hive.ctcp (send it with `send`).
   */
  reply(text: string | Buffer | (string | Buffer)[]): Promise<void>;
}

export type CommandHandler = (cmd: Command) => unknown;

export interface Answer extends HiveMessage {
  /** The text of each PRIVMSG/NOTICE line of the answer. */
  texts: string[];
  from: string;
}

/** What a filter's hook returns: nothing to pass the message on unchanged, null to drop it, or a new message. */
export type FilterResult = HiveMessage | null | undefined | void;

export interface FilterHooks {
  down?: (msg: Incoming) => FilterResult | Promise<FilterResult>;
  up?: (msg: Incoming, child: ChildInfo) => FilterResult | Promise<FilterResult>;
}

export interface PluginContext<C = Record<string, unknown>> {
  readonly name: string;
  readonly kind: Kind;
  /** The plugin's `config:`, already checked and defaulted by its schema. */
  readonly config: C;
  readonly stateDir: string | undefined;
  readonly log: Logger;
  readonly commandPrefix: string;
  /** A command with its help line (the Commands property, `help`) and its handler. */
  command(name: string, spec: CommandSpec, handler: CommandHandler): void;
  /** A line of help only: a word of another command (`note add`), or a command a filter answers itself. */
  command(name: string, spec: CommandSpec): void;
  /** A command `help` does not list, or one the manifest declared. */
  command(name: string, handler: CommandHandler): void;
  /**
   * Every message from the parent; or, with `routes`, only those whose route matches one of them
   * (docs/protocol.md#routes: `PRIVMSG.*` every PRIVMSG, `PRIVMSG` talk that is not a command,
   * `JOIN`, `event.*`). With routes on every handler (and no filter), the bus daemon delivers
   * nothing else to this process: a plugin with commands only is never woken by other traffic.
   */
  onMessage(handler: (msg: Incoming) => unknown, opts?: { routes: string[] }): MessageSubscription;
  /** Sends a message up towards the mouth (automata); `hive.network` must be set. */
  send(msg: HiveMessage): Promise<void>;
  /** Says `text` to `target` on `network`. */
  say(network: string, target: string, text: string): Promise<void>;
  /** Replies to a message with raw lines, carrying its network and id. */
  replyWith(to: Incoming, lines: string[]): Promise<void>;
  filter(hooks: FilterHooks): void;
  /** Publishes the plugin's own figures as the node's Details property; `fn` runs on each read. */
  details(fn: () => Record<string, DetailValue>): void;
  /** Adds `by` (1) to the node's counter `name` (the Counters property: dropped, errors, or the plugin's own). */
  count(name: string, by?: number): void;
  /** Runs `fn` each time the node has attached to a parent (again after a restart or a move). */
  onAttached(fn: (parent: string) => void): void;
  /** The children attached now. */
  children(): ChildInfo[];
  /** The commands of every node of the hive, or of the nodes under this one; checked entry by entry (tree-commands.ts). */
  listCommands(scope: 'hive' | 'subtree'): Promise<TreeCommands>;
  /** Aggregators: asks the subtree a command as if the speaker of `about` had said it. */
  ask(about: Incoming, text: string, opts?: { timeoutMs?: number; max?: number }): Promise<Answer[]>;
}

/** What `onMessage` returns: the handler's routes can change while the plugin runs. */
export interface MessageSubscription {
  /**
   * Takes these routes from now on (`[]`: none; the handler is then not called). A plugin that
   * wants the traffic only while it has something to do with it (rules, subscriptions) says so, and
   * the bus daemon stops waking it for the rest. Widening brings nothing from before: a handler
   * that needs the past keeps its routes. Resolves once the bus daemon routes by the new rules: a
   * plugin that says "subscribed" after it has them is sent everything said after that.
   */
  setRoutes(routes: string[]): Promise<void>;
}

interface PendingQuery { answers: Answer[]; max: number; resolve: (a: Answer[]) => void; timer: NodeJS.Timeout }

/** Wires a plugin's handlers to a node. Returns the context handed to the plugin function. */
export function createContext<C>(node: HiveNode, opts: {
  config: C;
  stateDir?: string;
  commandPrefix: string;
  /** No child is expected (HIVE_LEAF=1): a filter or an aggregator takes its own routes only until one comes. */
  leaf?: boolean;
}): PluginContext<C> {
  const commands = new Map<string, CommandHandler>();
  const listeners: { handler: (msg: Incoming) => unknown; routes?: string[] }[] = [];
  let hooks: FilterHooks = {};
  const pending = new Map<string, PendingQuery>();
  const finished = new Set<string>();
  const log = node.log;
  node.commandPrefix = opts.commandPrefix;

  const count = (name: string, by = 1) => { node.counters[name] = (node.counters[name] ?? 0) + by; };
  const failed = (err: unknown, what: string) => {
    count('errors');
    log.error({ err }, what);
  };

  const replyLines = async (to: Incoming, lines: Buffer[]) => {
    const network = to.network;
    if (!network) throw new HiveError('InvalidArgs', 'cannot reply to a message without hive.network');
    const meta: Meta = { 'hive.network': network };
    if (to.meta['hive.id']) meta['hive.reply_to'] = to.meta['hive.id'];
    if (to.meta['hive.replayed']) meta['hive.replayed'] = true;
    await node.send({ lines, meta });
  };
  const replyWith = (to: Incoming, lines: string[]) => replyLines(to, lines.map(toLine));

  /** What the node asks its parent for: all, or the routes of its commands and handlers (routes.ts). */
  const resubscribe = () => {
    let wants: string[] | 'all' = [];
    // A filter or an aggregator is there to have children: it takes everything from the start, so
    // that its replay buffer holds what a child moved under it will ask for. Unless none is expected
    // (HIVE_LEAF: none in the config): its hooks have nothing to pass on, and it widens when a child
    // comes (node.ts), as any narrow node does (a child moved under it by hive reload may then miss
    // what passed in the moment of the move: counted as lost, docs/protocol.md#routes).
    const holder = !opts.leaf && (node.kind === 'filter' || node.kind === 'aggregator' || hooks.down !== undefined);
    if (holder || listeners.some((l) => !l.routes)) wants = 'all';
    else {
      for (const l of listeners) wants.push(...l.routes!);
      for (const name of commands.keys()) wants.push(commandRoute(name));
      wants = [...new Set(wants)];
    }
    return node.subscribe(wants).catch((err) => failed(err, 'could not change what this node takes from its parent'));
  };

  const handle = (msg: Incoming, route: string) => {
    for (const l of listeners) {
      if (l.routes && !matchesAny(route, l.routes)) continue;
      try {
        const r = l.handler(msg);
        if (r instanceof Promise) r.catch((err) => failed(err, 'message handler failed'));
      } catch (err) { failed(err, 'message handler failed'); }
    }
    // A room's history replayed on join is old talk: nobody's command now.
    if (commands.size === 0 || !msg.irc || msg.meta['hive.history'] === true) return;
    const parsed = parseCommand(msg.irc, msg.meta['hive.nick'], opts.commandPrefix);
    if (!parsed) return;
    const handler = commands.get(parsed.name);
    if (!handler || !msg.network) return;
    const raw = msg.lines[0]!;
    let argsBytes: Buffer | undefined;
    const cmd: Command = {
      ...parsed,
      network: msg.network,
      message: msg,
      // Worked out only when asked: most commands never need the bytes.
      get argsBytes() { return (argsBytes ??= argsBytesOf(raw, parsed)); },
      reply: (text) => {
        const lines = (Array.isArray(text) ? text : [text]).flatMap((t) => privmsgLines(parsed.replyTo, t));
        return replyLines(msg, lines);
      },
    };
    log.debug({ command: parsed.name, irc: { nick: parsed.nick } }, 'command');
    Promise.resolve()
      .then(() => handler(cmd))
      .catch((err) => {
        failed(err, 'command failed');
        void cmd.reply(`${parsed.name}: failed (${err instanceof HiveError ? err.message : 'internal error, see the log'})`).catch(() => undefined);
      });
  };

  let downTail: Promise<void> | undefined;
  const finishDown = (msg: Incoming, wire: WireMessage, route: string, r: FilterResult) => {
    if (r === null) { count('dropped'); return; }
    // A message the filter changed has its route worked out again (it may no longer be a command).
    node.passDown(r ? encode(r) : wire, r ? undefined : route);
    handle(msg, route);
  };

  node.onDown = (wire: WireMessage, route: string) => {
    const needsDecode = listeners.length > 0 || commands.size > 0 || hooks.down !== undefined;
    if (!needsDecode) { node.passDown(wire, route); return; }
    const msg = toIncoming(decode(wire));
    if (hooks.down) {
      let r: FilterResult | Promise<FilterResult>;
      try { r = hooks.down(msg); } catch (err) { failed(err, 'filter (down) failed'); return; }
      // A synchronous hook passes the message on at once; an asynchronous one waits its turn, so
      // that messages leave in the order they came (children drop a sequence number that was overtaken).
      if (!(r instanceof Promise) && !downTail) { finishDown(msg, wire, route, r); return; }
      const result = r;
      const tail: Promise<void> = (downTail ?? Promise.resolve())
        .then(() => result)
        .then((res) => finishDown(msg, wire, route, res))
        .catch((err) => failed(err, 'filter (down) failed'))
        .finally(() => { if (downTail === tail) downTail = undefined; });
      downTail = tail;
      return;
    }
    handle(msg, route);
    node.passDown(wire, route);
  };

  node.onUp = async (wire: WireMessage, child: ChildInfo) => {
    const replyTo = wire[1]['hive.reply_to']?.value as string | undefined;
    if (replyTo !== undefined && finished.has(replyTo)) {
      count('dropped');
      log.warn({ child: child.name, replyTo }, 'late answer to a finished query dropped');
      return;
    }
    const q = replyTo !== undefined ? pending.get(replyTo) : undefined;
    if (q) {
      const msg = decode(wire);
      q.answers.push({ ...msg, texts: textsOf(msg.lines), from: child.name });
      if (q.answers.length >= q.max) finish(replyTo!);
      return;
    }
    if (!hooks.up) return node.passUp(wire);
    const r = await hooks.up(toIncoming(decode(wire)), child);
    if (r === null) { count('dropped'); return; }
    return node.passUp(r ? encode(r) : wire);
  };

  const finish = (id: string) => {
    const q = pending.get(id);
    if (!q) return;
    pending.delete(id);
    // Remember it for a while: an answer arriving later belongs to no one and must not go up.
    finished.add(id);
    if (finished.size > 1000) finished.delete(finished.values().next().value!);
    clearTimeout(q.timer);
    q.resolve(q.answers);
  };

  const command = (name: string, specOrHandler: CommandSpec | CommandHandler, handler?: CommandHandler) => {
    const key = name.toLowerCase();
    if (typeof specOrHandler === 'function') { commands.set(key, specOrHandler); resubscribe(); return; }
    if (handler) { commands.set(key, handler); resubscribe(); }
    // The Commands property is read on each Get, so a command added now is listed at once.
    if (!node.commands.some(([c]) => c.toLowerCase() === key)) node.commands.push([name, specOrHandler.help]);
  };

  // Nothing registered yet: a plugin that never takes a message (an automaton that only sends) is sent none.
  resubscribe();
  return {
    name: node.name,
    kind: node.kind,
    config: opts.config,
    stateDir: opts.stateDir,
    log,
    commandPrefix: opts.commandPrefix,
    command,
    onMessage(handler, o) {
      const checked = (routes: string[], what: string) => {
        const bad = routes.filter((p) => !validPattern(p));
        if (bad.length) throw new HiveError('InvalidArgs', `${what}: route patterns ${JSON.stringify(bad)}: a key, or a namespace of letters, digits, _ and - ending in .* (docs/protocol.md#routes)`);
        return [...new Set(routes)];
      };
      const listener: { handler: (msg: Incoming) => unknown; routes?: string[] } = { handler, routes: o?.routes ? checked(o.routes, 'onMessage') : undefined };
      listeners.push(listener);
      resubscribe();
      return {
        // The same routes again change nothing: the link keeps its rules (parent-link.ts subscribe).
        setRoutes(routes) {
          listener.routes = checked(routes, 'setRoutes');
          return resubscribe();
        },
      };
    },
    send: (msg) => node.send(msg),
    say: (network, target, text) => node.send({ lines: text.split('\n').map((t) => toLine(privmsg(target, t))), meta: { 'hive.network': network } }),
    replyWith,
    filter(h) { hooks = h; resubscribe(); },
    details(fn) { node.details = fn; },
    count,
    onAttached(fn) {
      const previous = node.onAttached;
      node.onAttached = (parent) => {
        previous?.(parent);
        try { fn(parent); } catch (err) { failed(err, 'attached handler failed'); }
      };
    },
    children: () => [...node.children.values()],
    listCommands(scope) {
      // The bus is connected once the node has started; until then there is nothing to ask.
      const r = { bus: node.bus, debug: (fields: Record<string, unknown>, msg: string) => log.debug(fields, msg) };
      if (scope === 'subtree') return subtreeCommands(r, [...node.children.values()].map((c) => ({ name: c.name, unique: c.unique })));
      return hiveCommands(r, node.busName.slice(0, node.busName.length - node.name.length));
    },
    ask(about, text, { timeoutMs = 5000, max = 1 } = {}) {
      const irc = about.irc;
      if (!irc || irc.command !== 'PRIVMSG') return Promise.reject(new HiveError('InvalidArgs', 'ask: the message asked about must be a PRIVMSG'));
      if (node.children.size === 0) return Promise.resolve([]);
      const id = newMessageId(node.name);
      const prefix = irc.prefix ? `:${irc.prefix} ` : '';
      const meta: Meta = { ...about.meta, 'hive.id': id, 'hive.query': true };
      delete meta['hive.seq'];
      delete meta['hive.path'];
      delete meta['hive.reply_to'];
      return new Promise<Answer[]>((resolve) => {
        const timer = setTimeout(() => finish(id), timeoutMs);
        pending.set(id, { answers: [], max, resolve, timer });
        node.emit({ lines: [toLine(`${prefix}PRIVMSG ${irc.params[0]} :${opts.commandPrefix}${text}`)], meta });
      });
    },
  };
}
