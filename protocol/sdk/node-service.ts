/**
 * Serving org.hive.Node1 at /org/hive/Node (docs/protocol.md#the-node-interface): the methods, each
 * handed to the part of the node that owns it (child-registry.ts, connectionless.ts, the parent
 * link), the read-only properties, and the header-first gate (bus-gate.ts) that refuses — at the
 * cost of the header — a call larger than any the node accepts, Send or Replay from a connection
 * that is no child, and a large signal from anyone but the parent and the bus. Refused calls get
 * their named error, counted, and logged at most a few times a minute per caller.
 */
import { HiveError } from '../errors.js';
import { LIMITS } from '../limits.js';
import { NODE_INTERFACE, NODE_PATH } from '../names.js';
import { NODE1 } from '../node1.js';
import { DBUS, MessageType, answerUnread, type DBusMessage } from './bus.js';
import type { GateHeader, Refusal } from './bus-gate.js';
import type { ChildRegistry } from './child-registry.js';
import type { ConnectionlessChildren } from './connectionless.js';
import { counterValues, detailVariants, type DetailValue } from './details.js';
import type { NodeContext } from './node-context.js';
import type { ReplayBuffer } from './replay-buffer.js';
import { validPattern } from './routes.js';
import { serveObject } from './service.js';

export interface NodeServiceOptions {
  kind: string;
  registry: ChildRegistry;
  connectionless: ConnectionlessChildren;
  replay: ReplayBuffer;
  /** The parent followed (a bus name, '' for none) and its unique name while attached. */
  parentName: () => string;
  parentUnique: () => string | undefined;
  /** SetParent, after the caller was checked (node-context.ts: the token, or in vouch mode the supervisor's connection). */
  setParent: (parent: string) => Promise<void>;
  /** The node's current commands and own figures (HiveNode.commands, HiveNode.details). */
  commands: () => [string, string][];
  details: () => Record<string, DetailValue>;
}

/** The most route patterns one ReplayRoutes may name: each is matched against every buffered message. */
const MAX_ROUTES = 256;

export class NodeService {
  constructor(private readonly ctx: NodeContext, private readonly o: NodeServiceOptions) {}

  /** Decides from a message's header alone whether its body may be decoded (bus-gate.ts). */
  gate(h: GateHeader): Refusal | undefined {
    if (h.type === MessageType.METHOD_CALL) {
      // (Calls to the bus name of a child without a connection are answered for it, serveCall.)
      if ((h.member === 'Send' || h.member === 'Replay' || h.member === 'ReplayRoutes') && (h.interface === NODE_INTERFACE || !h.interface)
        && !(h.destination && this.o.connectionless.holds(h.destination)) && !(h.sender && this.o.registry.has(h.sender))) return 'NotChild';
      if (h.bodyLength > LIMITS.maxCallBodyBytes) return 'TooLarge';
    } else if (h.type === MessageType.SIGNAL) {
      if (h.bodyLength > LIMITS.maxCallBodyBytes && h.sender !== DBUS.name && h.sender !== this.o.parentUnique()) return 'TooLarge';
    }
    return undefined;
  }

  /** Installs the method handlers on the node's connection. */
  serve(): void {
    const { bus } = this.ctx;
    const { registry, connectionless } = this.o;
    // First: calls whose body was refused unread (bus-gate.ts) get their error here.
    bus.addMethodHandler((msg: DBusMessage) => this.refuseGated(msg));
    // Then: calls to the bus name of a child without a connection are answered for that child.
    bus.addMethodHandler((msg: DBusMessage) => connectionless.serveCall(msg));
    serveObject(bus, {
      path: NODE_PATH,
      spec: NODE1,
      log: this.ctx.log,
      uncheckedSignatures: ['Send', 'SendAs'],
      properties: () => this.properties(),
      methods: {
        Send: (msg) => registry.send(msg),
        Attach: (msg) => registry.attach(msg),
        Detach: (msg) => registry.detach(msg),
        SetParent: async (msg) => {
          const [parent, token] = msg.body as [string, string];
          await this.ctx.checkSetParent(token, msg.sender);
          this.ctx.log.info({ from: this.o.parentName(), to: parent }, 'SetParent');
          await this.o.setParent(parent);
        },
        Replay: (msg) => {
          if (!registry.has(msg.sender)) throw new HiveError('NotChild', `Replay: ${msg.sender} is not an attached child of '${this.ctx.name}'`);
          const [network, after] = msg.body as [string, bigint];
          const r = this.o.replay.since(network, Number(after));
          return [r.wires, r.complete];
        },
        ReplayRoutes: (msg) => {
          if (!registry.has(msg.sender)) throw new HiveError('NotChild', `ReplayRoutes: ${msg.sender} is not an attached child of '${this.ctx.name}'`);
          const [network, after, routes] = msg.body as [string, bigint, string[]];
          if (routes.length > MAX_ROUTES || !routes.every(validPattern)) {
            throw new HiveError('InvalidArgs', `ReplayRoutes: at most ${MAX_ROUTES} routes, each a key or a namespace ending in .* (docs/protocol.md#routes)`);
          }
          const r = this.o.replay.sinceRoutes(network, Number(after), routes);
          return [r.wires, r.complete];
        },
        Join: (msg) => connectionless.join(msg),
        Renew: (msg) => connectionless.renew(msg),
        SendAs: (msg) => connectionless.sendAs(msg),
        Leave: (msg) => connectionless.leave(msg),
      },
    });
  }

  private properties(): Record<string, unknown> {
    return {
      Name: this.ctx.name,
      Kind: this.o.kind,
      Parent: this.o.parentName(),
      Children: [...this.o.registry.children.values()].map((c) => [c.name, c.unique]),
      Commands: this.o.commands(),
      Counters: counterValues(this.ctx.counters),
      Details: detailVariants(this.o.details()),
    };
  }

  /** Answers a call whose body the gate did not decode, with the named error, counted and logged. */
  private refuseGated(msg: DBusMessage): boolean {
    const refusal = answerUnread(this.ctx.bus, msg, LIMITS.maxCallBodyBytes, this.ctx.name);
    if (!refusal) return false;
    if (msg.type !== MessageType.METHOD_CALL) return true; // a refused signal: nothing to answer, nothing to act on
    const { counters } = this.ctx;
    counters.errors++;
    const counter = refusal === 'TooLarge' ? 'oversized' : 'not_child';
    counters[counter] = (counters[counter] ?? 0) + 1;
    this.ctx.refused(`${counter}:${msg.sender}`, { caller: msg.sender, member: msg.member }, refusal === 'TooLarge' ? 'call refused unread: body too large' : `${msg.member} refused unread: not a child`);
    return true;
  }
}
