/**
 * The mouth's networks changed while it runs (`hive reload`, docs/cli.md#hive-reload): the
 * supervisor calls org.hive.Mouth1.Configure on the mouth with the new `networks:` of the config,
 * and the mouth applies the difference network by network, leaving the others alone:
 *
 * - a network added: made and connected; removed: QUIT and gone;
 * - only its channels changed: the channels joined and parted on the open connection
 *   (Network.setChannels; a network without it is restarted instead);
 * - anything else changed (server, nick, SASL, flood, …): that network alone reconnects.
 *
 * Only the supervisor may call it: the caller must own org.hive.<instance>.Supervisor, as for
 * SetParent (docs/security.md). The terminal network cannot come or go (the mouth's stdin and
 * stdout are set when it starts): refused. Calls are applied one after the other.
 */
import { z } from 'zod';
import type { Logger } from 'pino';
import { HiveError } from '../protocol/errors.js';
import { NAME_PATTERN, supervisorBusName } from '../protocol/names.js';
import { MOUTH1, MOUTH_PATH } from '../protocol/mouth1.js';
import { channelsOf, networkChanges, refusedChange } from '../protocol/network-changes.js';
import { nameOwner, type MessageBus } from '../protocol/sdk/bus.js';
import { serveObject } from '../protocol/sdk/service.js';
import { networkSchema, type NetworkConfig } from './network-config.js';
import type { Network } from './network.js';

/** The largest networks JSON taken (the bus gate bounds the call anyway): a config is far smaller. */
const CONFIGURE_MAX = 128 * 1024;
const networksSchema = z.record(z.string().regex(NAME_PATTERN), networkSchema);

export interface LiveConfigOptions {
  /** The mouth's connection, once started. */
  bus: MessageBus;
  instance: string;
  log: Logger;
  /** The running networks by name: changed in place. */
  networks: Map<string, Network>;
  /** The networks' config as the mouth started with it. */
  configs: Record<string, NetworkConfig>;
  /** Makes a network as at start-up (its counters shown too); not started yet. */
  create: (name: string, config: NetworkConfig) => Network;
  /** A network gone: its counters go too. */
  forget?: (name: string) => void;
  /** The mouth's counters: `config_refused` counts the Configure calls refused (not the supervisor, bad JSON). */
  counters: Record<string, number>;
}

/** Serves org.hive.Mouth1 at /org/hive/Mouth on the mouth's connection. */
export function serveLiveConfig(o: LiveConfigOptions): void {
  let configs = { ...o.configs };
  let queue: Promise<unknown> = Promise.resolve();
  const supervisor = supervisorBusName(o.instance);

  const apply = async (next: Record<string, NetworkConfig>): Promise<{ network: string; did: string }[]> => {
    const changes = networkChanges(configs, next);
    const refused = changes.map((c) => refusedChange(c, configs, next)).filter((r): r is string => r !== undefined);
    if (refused.length) throw new HiveError('InvalidArgs', refused.join('; '));
    const done: { network: string; did: string }[] = [];
    const failed: string[] = [];
    for (const change of changes) {
      const name = change.network;
      const log = o.log.child({ network: name });
      try {
        const current = o.networks.get(name);
        if (change.do === 'remove' || change.do === 'restart') {
          await current?.stop(change.do === 'remove' ? 'Hive: network removed' : 'Hive: reconnecting with a new configuration');
          o.networks.delete(name);
          o.forget?.(name);
        }
        if (change.do === 'add' || change.do === 'restart') {
          const n = o.create(name, next[name]!);
          o.networks.set(name, n);
          await n.start();
        }
        if (change.do === 'channels') {
          if (current?.setChannels) await current.setChannels(channelsOf(next[name]!));
          else {
            // A network that cannot change its channels live reconnects with them.
            await current?.stop('Hive: reconnecting with new channels');
            o.forget?.(name);
            const n = o.create(name, next[name]!);
            o.networks.set(name, n);
            await n.start();
            done.push({ network: name, did: 'restarted' });
            configs = { ...configs, [name]: next[name]! };
            continue;
          }
        }
        if (change.do === 'remove') { const { [name]: _gone, ...rest } = configs; configs = rest; } else configs = { ...configs, [name]: next[name]! };
        done.push({ network: name, did: change.do === 'add' ? 'added' : change.do === 'remove' ? 'removed' : change.do === 'restart' ? 'restarted' : 'channels' });
        log.info({ change }, 'network reconfigured');
      } catch (err) {
        failed.push(`${name}: ${(err as Error).message}`);
        log.error({ err, change }, 'network could not be reconfigured');
      }
    }
    if (failed.length) throw new HiveError('Failed', `not every network could be reconfigured: ${failed.join('; ')}`);
    return done;
  };

  serveObject(o.bus, {
    path: MOUTH_PATH,
    spec: MOUTH1,
    log: o.log,
    properties: () => ({}),
    methods: {
      Configure: async (msg) => {
        const refuse = (err: HiveError) => {
          o.counters.config_refused = (o.counters.config_refused ?? 0) + 1;
          o.log.warn({ caller: msg.sender, reason: err.message.slice(0, 500) }, 'Configure refused');
          return err;
        };
        const owner = await nameOwner(o.bus, supervisor);
        if (!owner || owner !== msg.sender) throw refuse(new HiveError('NotAuthorized', `Configure: only the supervisor (${supervisor}) changes the mouth's networks; ${String(msg.sender)} is not it`));
        const text = msg.body[0] as string;
        if (text.length > CONFIGURE_MAX) throw refuse(new HiveError('InvalidArgs', `Configure: at most ${CONFIGURE_MAX} characters of networks`));
        let parsed;
        try { parsed = networksSchema.safeParse(JSON.parse(text)); } catch { throw refuse(new HiveError('InvalidArgs', 'Configure: networks is not JSON')); }
        if (!parsed.success) throw refuse(new HiveError('InvalidArgs', `Configure: ${parsed.error.issues.slice(0, 5).map((i) => `networks.${i.path.join('.')}: ${i.message}`).join('; ')}`));
        const run = queue.then(() => apply(parsed.data));
        queue = run.catch(() => undefined);
        return [JSON.stringify(await run)];
      },
    },
  });
}
