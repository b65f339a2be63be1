// The few declarations of @xmpp/client 0.14 and @xmpp/xml (which ship no types) that Hive uses.
declare module '@xmpp/xml' {
  export class Element {
    constructor(name: string, attrs?: Record<string, string | undefined>);
    name: string;
    attrs: Record<string, string | undefined>;
    children: (Element | string)[];
    parent: Element | null;
    is(name: string, xmlns?: string): boolean;
    getNS(): string | undefined;
    getChild(name: string, xmlns?: string): Element | undefined;
    getChildren(name: string, xmlns?: string): Element[];
    getChildText(name: string, xmlns?: string): string | null;
    getText(): string;
    text(): string;
    append(...children: (Element | string)[]): Element;
    remove(el: Element | string, xmlns?: string): Element;
    toString(): string;
  }
  export function xml(name: string, attrs?: Record<string, string | undefined> | null, ...children: (Element | string | undefined | null | false)[]): Element;
  export default xml;
}

declare module '@xmpp/client' {
  import { EventEmitter } from 'node:events';
  import type { Element } from '@xmpp/xml';
  export { xml } from '@xmpp/xml';

  export interface Jid {
    local: string;
    domain: string;
    resource: string;
    bare(): Jid;
    toString(): string;
  }
  export function jid(s: string): Jid;

  export interface StreamManagement extends EventEmitter {
    enabled: boolean;
    id: string;
    outbound_q: { stanza: Element; stamp: string }[];
    inbound: number;
    outbound: number;
    timeout: number;
    requestAckInterval: number;
    requestAckDebounce: number;
  }

  export interface Client extends EventEmitter {
    jid: Jid | null;
    status: string;
    socket: (EventEmitter & { destroy(): void; bytesRead?: number }) | null;
    parser: { write(s: string): void } | null;
    timeout: number;
    options: { service?: string; domain?: string; lang?: string };
    reconnect: EventEmitter & { stop(): void; start(): void };
    streamManagement: StreamManagement;
    iqCaller: { request(el: Element, timeout?: number): Promise<Element> };
    start(): Promise<Jid>;
    stop(): Promise<unknown>;
    connect(service: string): Promise<unknown>;
    open(options: { domain?: string; lang?: string }): Promise<unknown>;
    disconnect(): Promise<unknown>;
    send(el: Element): Promise<void>;
    write(s: string): Promise<void>;
    isSecure(): boolean;
    /** Connection's data handler: bound at the first socket attach, so it can be wrapped before. */
    _onData(data: Buffer): void;
    /** Attaches a socket (the TCP one, or @xmpp's TLS wrapper with its TLS socket in `.socket`). */
    _attachSocket(socket: EventEmitter & { socket?: EventEmitter | null }): void;
    Socket: new () => EventEmitter;
  }

  export interface ClientOptions {
    service: string;
    domain?: string;
    resource?: string;
    username?: string;
    password?: string;
    credentials?: unknown;
    timeout?: number;
    lang?: string;
  }
  export function client(options: ClientOptions): Client;
}
