/**
 * SASL on one IRC network, after irc-framework's own login at registration: whether the bot is
 * identified (900/901, account-notify), logging in again when the services come back (CAP NEW
 * sasl, or a CAP LS probe every `sasl.retry`, since InspIRCd 3 says no CAP NEW when the same
 * services relink), and never asking again on a connection where the services refused the login
 * (a wrong password would be refused every retry, forever). State is per connection: `reset()`.
 */
import type { Client as IrcClient } from 'irc-framework';
import type { Logger } from 'pino';
import type { IrcNetworkConfig } from './network-config.js';

export interface SaslHost {
  config: IrcNetworkConfig;
  log: Logger;
  registered(): boolean;
  /** The bot's own nick now (ACCOUNT lines name whoever they are about). */
  nick(): string;
  /** Before registering, a SASL failure may be why the server closes: the disconnect reason. */
  failedBeforeRegistering(reason: string): void;
}

export class SaslLogin {
  /** The account the bot is identified as ('' when not). */
  account = '';
  /** Why the services refused this connection's login ('' if they did not): no retry until the next connection. */
  private refused = '';
  private timer: NodeJS.Timeout | undefined;
  private client: IrcClient | undefined;

  constructor(private readonly h: SaslHost) {}

  /** What irc-framework's connect() needs to log in while registering. */
  clientOptions(): Record<string, unknown> {
    const sasl = this.h.config.sasl;
    // Always an account object: without one irc-framework would try SASL PLAIN as <nick> with the
    // server password, sending that password to the services and logging a bogus SASL failure.
    const out: Record<string, unknown> = { account: sasl?.mechanism === 'PLAIN' ? { account: sasl.account, password: sasl.password } : {} };
    if (sasl?.mechanism === 'EXTERNAL') out.sasl_mechanism = 'EXTERNAL';
    return out;
  }

  /** A new connection: nothing is known of it yet; its events are heard from here on. */
  connecting(client: IrcClient): void {
    this.stopRetry();
    this.client = client;
    this.account = '';
    this.refused = '';
    const { config: c, log } = this.h;
    client.on('sasl failed', (e: { reason: string; message?: string }) => {
      if (!this.h.registered()) this.h.failedBeforeRegistering(`SASL failed: ${e.reason}`);
      // SASL not offered (services away): worth asking again, every sasl.retry.
      if (e.reason === 'capability_missing') {
        if (this.h.registered()) log.warn({ retryMs: c.sasl?.retry }, 'SASL still not offered; asking again later');
        else log.error({ reason: e.reason, registered: false }, 'SASL login failed');
        return;
      }
      // Refused: the same credentials would be refused again.
      const first = !this.refused;
      this.refused = e.reason;
      this.stopRetry();
      // Logged once per connection: a server repeating the numeric must not fill the log.
      if (first) log.error({ reason: e.reason, message: e.message, registered: this.h.registered(), retry: 'next connection' }, 'SASL login failed');
      else log.debug({ reason: e.reason }, 'SASL refused again');
    });
    // Services came back (cap-notify: CAP NEW sasl, which irc-framework requests and gets ACKed):
    // irc-framework authenticates only while registering, so log in here.
    const back = (e: { capabilities?: Record<string, string> }) => {
      if (!c.sasl || !this.h.registered() || this.account || this.refused || !e.capabilities || !('sasl' in e.capabilities)) return;
      // While negotiating (after our CAP LS probe) irc-framework authenticates itself.
      if (!client.network.cap.isEnabled('sasl') || client.network.cap.negotiating) return;
      const offered = client.network.cap.available.get('sasl');
      if (offered && !offered.toUpperCase().split(',').includes(c.sasl.mechanism)) {
        log.error({ mechanism: c.sasl.mechanism, offered }, 'SASL available again, but not with our mechanism');
        return;
      }
      log.info({ mechanism: c.sasl.mechanism }, 'SASL available again; logging in');
      client.raw('AUTHENTICATE', c.sasl.mechanism);
    };
    client.on('cap ack', back);
    client.on('cap new', back);
    // 900/901 are about us; ACCOUNT (account-notify) about whoever it names.
    client.on('loggedin', (e: { account?: unknown }) => this.identified(e.account));
    client.on('loggedout', () => this.identified(''));
    client.on('account', (e: { nick?: unknown; account?: unknown }) => {
      if (this.h.registered() && typeof e.nick === 'string' && e.nick.toLowerCase() === this.h.nick().toLowerCase()) this.identified(e.account);
    });
  }

  /** The connection is gone: not identified any more, nothing to retry on it. */
  disconnected(): void {
    this.stopRetry();
    this.account = '';
  }

  stopRetry(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * While registered without an account although SASL is configured, ask the server every
   * sasl.retry whether SASL is offered (CAP LS): irc-framework answers the listing with CAP REQ
   * and, once sasl is ACKed, authenticates. Not after the services refused the login.
   */
  scheduleRetry(): void {
    this.stopRetry();
    const sasl = this.h.config.sasl;
    const client = this.client;
    if (!sasl || !client || !this.h.registered() || this.account || this.refused) return;
    this.timer = setInterval(() => {
      if (this.h.registered() && this.client === client && !this.account && !this.refused && !client.network.cap.negotiating) client.raw('CAP', 'LS', '302');
    }, sasl.retry);
  }

  private identified(account: unknown): void {
    const now = typeof account === 'string' ? account : '';
    if (now === this.account) return;
    this.account = now;
    // Logged in: the credentials work, so being logged out later is the services' doing: retry then.
    if (now) this.refused = '';
    if (now) this.h.log.info({ account: now }, 'identified');
    else this.h.log.warn('no longer identified');
    this.scheduleRetry();
  }
}
