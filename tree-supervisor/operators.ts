/**
 * The control plane's gate (docs/security.md): which bus connections are the operator's. A
 * connection becomes one by Supervisor1.Authenticate with the hive secret (the runtime file's
 * `token`) and stays one until it leaves the bus; the set is bounded (the oldest is dropped).
 * Every method that changes the hive asks `require` first: a caller that is not an operator gets
 * org.hive.Error.NotAuthorized, counted and logged (rate-limited).
 */
import type { Logger } from 'pino';
import { HiveError } from '../protocol/errors.js';
import { createLogLimiter } from '../protocol/log-limit.js';
import { addMatch, DBUS, MessageType, removeMatch, type DBusMessage, type MessageBus } from '../protocol/sdk/bus.js';
import { CREDENTIAL_MAX, sameCredential } from './credentials.js';

/** How many operator connections at once: `hive` commands are short-lived; a leak cannot grow this. */
export const OPERATORS_MAX = 64;

export class Operators {
  private readonly set = new Set<string>();
  private readonly limiter = createLogLimiter();
  notAuthorized = 0;

  constructor(private readonly o: { bus: MessageBus; secret: string; log: Logger }) {
    o.bus.on('message', (msg: DBusMessage) => {
      if (msg.type !== MessageType.SIGNAL || msg.sender !== DBUS.name || msg.member !== 'NameOwnerChanged') return;
      const [name, , owner] = msg.body as [string, string, string];
      if (!owner && this.set.has(name)) this.forget(name);
    });
  }

  /** Supervisor1.Authenticate from `sender`. */
  async authenticate(sender: string, credential: string): Promise<void> {
    if (credential.length > CREDENTIAL_MAX || !sameCredential(credential, this.o.secret)) {
      this.refuse(sender, 'Authenticate');
    }
    if (this.set.has(sender)) return;
    if (this.set.size >= OPERATORS_MAX) this.forget(this.set.values().next().value as string);
    this.set.add(sender);
    // Unique names are never reused on a bus; the match only keeps the set small.
    await addMatch(this.o.bus, this.rule(sender)).catch(() => undefined);
  }

  /** Throws NotAuthorized unless `sender` authenticated. */
  require(sender: string | undefined, member: string): void {
    if (!sender || !this.set.has(sender)) this.refuse(sender ?? '?', member);
  }

  private refuse(sender: string, member: string): never {
    this.notAuthorized++;
    const suppressed = this.limiter.take(member);
    if (suppressed !== undefined) this.o.log.error({ sender, member, suppressed }, 'control-plane call refused: not the operator');
    throw new HiveError('NotAuthorized', `${member}: only the operator may do this (the \`hive\` command authenticates with the runtime file's credential)`);
  }

  private forget(name: string): void {
    this.set.delete(name);
    void removeMatch(this.o.bus, this.rule(name)).catch(() => undefined);
  }

  private rule(name: string): string {
    return `type='signal',sender='${DBUS.name}',interface='${DBUS.iface}',member='NameOwnerChanged',arg0='${name}'`;
  }
}
