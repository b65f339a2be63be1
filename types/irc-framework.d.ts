// The few declarations of irc-framework (which ships no types) that Hive uses.
declare module 'irc-framework' {
  import { EventEmitter } from 'node:events';

  export interface IrcMessage {
    tags: Record<string, string>;
    prefix: string;
    nick: string;
    ident: string;
    hostname: string;
    command: string;
    params: string[];
  }

  export function ircLineParser(line: string): IrcMessage | undefined;

  export class Client extends EventEmitter {
    constructor(options?: Record<string, unknown>);
    connect(options?: Record<string, unknown>): void;
    quit(message?: string): void;
    raw(...args: string[]): void;
    join(channel: string, key?: string): void;
    say(target: string, message: string): void;
    changeNick(nick: string): void;
    connected: boolean;
    user: { nick: string; username: string; host: string; away: boolean; modes: Set<string> };
    network: {
      cap: { isEnabled(cap: string): boolean; enabled: string[]; requested: string[]; available: Map<string, string>; negotiating: boolean };
      supports(feature: string): unknown;
    };
    options: Record<string, unknown>;
    connection: EventEmitter & { connected: boolean; end(...args: unknown[]): void; transport?: unknown };
    requestCap(cap: string | string[]): void;
    use(middleware: unknown): this;
  }

  const irc: { Client: typeof Client; ircLineParser: typeof ircLineParser };
  export default irc;
}

declare module 'irc-framework/src/irclineparser.js' {
  import type { IrcMessage } from 'irc-framework';
  export default function ircLineParser(line: string): IrcMessage | undefined;
}

declare module 'irc-framework/src/transports/net.js' {
  import { EventEmitter } from 'node:events';
  import type { Socket } from 'node:net';
  /** irc-framework's TCP/TLS transport; `new options.transport(options)` for each connection. */
  export default class NetTransport extends EventEmitter {
    constructor(options: Record<string, unknown>);
    socket: Socket | null;
    options: Record<string, unknown>;
    connect(): void;
    onSocketData(data: Buffer): void;
    close(force?: boolean): void;
    disposeSocket(): void;
  }
}
