/**
 * Serving one object with dbus-next's low-level API: Introspect (generated from the interface
 * spec), read-only Properties, and the interface's methods with their signatures checked. Any
 * thrown value becomes a named error reply; one bad call never takes the process down.
 */
import type { Logger } from 'pino';
import { HiveError } from '../errors.js';
import { childrenXml, interfaceXml, objectXml, type InterfaceSpec } from '../introspection.js';
import { Message, Variant, type DBusMessage, type MessageBus } from './bus.js';

const PROPS_IFACE = 'org.freedesktop.DBus.Properties';
const INTROSPECT_IFACE = 'org.freedesktop.DBus.Introspectable';

/** A method handler returns the reply body (matching the out signature), or a promise of it. */
export type MethodHandler = (msg: DBusMessage) => unknown[] | void | Promise<unknown[] | void>;

export interface ServiceOptions {
  path: string;
  spec: InterfaceSpec;
  methods: Record<string, MethodHandler>;
  /** Methods whose in-signature the handler checks itself (to answer with its own error name). */
  uncheckedSignatures?: string[];
  properties: () => Record<string, unknown>;
  log: Logger;
}

export function serveObject(bus: MessageBus, o: ServiceOptions): void {
  const xml = objectXml([interfaceXml(o.spec)]);
  const outSig = (m: string) => o.spec.methods[m]!.out.map(([, t]) => t).join('');
  // An answer finished after the connection closed has nobody to go to (the node is stopping).
  // Returns what kept an answer from being encoded; one finished after the connection closed has
  // nobody to go to (the node is stopping).
  const send = (m: InstanceType<typeof Message>, member: string): Error | undefined => {
    try { bus.send(m); } catch (err) {
      if (!/stream is closed/.test((err as Error)?.message ?? '')) return err as Error;
      o.log.debug({ err, member }, 'answer not sent: the connection is closed');
    }
    return undefined;
  };
  // An answer that cannot be encoded (dbus-next refuses a value for its signature) is this node's
  // bug: logged as an error, and the caller told Failed at once rather than left to its deadline.
  const reply = (msg: DBusMessage, signature: string, body: unknown[]) => {
    const member = msg.member ?? '';
    const err = send(Message.newMethodReturn(msg, signature, body), member);
    if (!err) return;
    o.log.error({ err, member, signature }, 'answer could not be encoded; the caller is told Failed');
    send(Message.newError(msg as unknown as string, 'org.hive.Error.Failed', `${member}: the answer could not be encoded (${err.message})`), member);
  };
  const fail = (msg: DBusMessage, err: unknown) => {
    const e = err instanceof HiveError ? err : new HiveError('Failed', (err as Error)?.message ?? String(err), { cause: err });
    if (!(err instanceof HiveError)) o.log.error({ err, member: msg.member }, 'call failed');
    send(Message.newError(msg as unknown as string, e.dbusName, e.message), msg.member ?? '');
  };

  bus.addMethodHandler((msg: DBusMessage) => {
    if (msg.path !== o.path) {
      if (msg.interface === INTROSPECT_IFACE && msg.member === 'Introspect' && o.path.startsWith(msg.path === '/' ? '/' : msg.path + '/')) {
        const rest = o.path.slice(msg.path === '/' ? 1 : msg.path.length + 1);
        reply(msg, 's', [childrenXml([rest.split('/')[0]!])]);
        return true;
      }
      return false;
    }
    try {
      if (msg.interface === INTROSPECT_IFACE) {
        if (msg.member !== 'Introspect') return false;
        reply(msg, 's', [xml]);
      } else if (msg.interface === PROPS_IFACE) {
        servePropertyCall(msg);
      } else if (msg.interface === o.spec.name || (!msg.interface && o.methods[msg.member])) {
        serveMethod(msg);
      } else {
        return false;
      }
    } catch (err) {
      fail(msg, err);
    }
    return true;
  });

  function serveMethod(msg: DBusMessage): void {
    const spec = o.spec.methods[msg.member];
    const handler = o.methods[msg.member];
    if (!spec || !handler) throw new HiveError('InvalidArgs', `no method '${msg.member}' on ${o.spec.name}`);
    const want = spec.in.map(([, t]) => t).join('');
    const sig = msg.signature ?? '';
    if (sig !== want && !o.uncheckedSignatures?.includes(msg.member)) {
      throw new HiveError('InvalidArgs', `${msg.member}: signature '${sig}'; expected '${want}'`);
    }
    const result = handler(msg);
    if (result instanceof Promise) {
      result.then((body) => reply(msg, outSig(msg.member), body ?? []), (err) => fail(msg, err));
    } else {
      reply(msg, outSig(msg.member), result ?? []);
    }
  }

  function servePropertyCall(msg: DBusMessage): void {
    if (msg.member === 'Get' && msg.signature === 'ss') {
      const [iface, prop] = msg.body as [string, string];
      const sig = o.spec.properties[prop];
      if (iface !== o.spec.name || !sig) throw new HiveError('InvalidArgs', `no property '${prop}' on '${iface}'`);
      reply(msg, 'v', [new Variant(sig, o.properties()[prop])]);
    } else if (msg.member === 'GetAll' && msg.signature === 's') {
      const out: Record<string, unknown> = {};
      if (msg.body[0] === o.spec.name) {
        const props = o.properties();
        for (const [k, sig] of Object.entries(o.spec.properties)) out[k] = new Variant(sig, props[k]);
      }
      reply(msg, 'a{sv}', [out]);
    } else if (msg.member === 'Set') {
      throw new HiveError('InvalidArgs', `the properties of ${o.spec.name} are read-only`);
    } else {
      throw new HiveError('InvalidArgs', `no method '${msg.member}' with signature '${msg.signature ?? ''}' on ${PROPS_IFACE}`);
    }
  }
}
