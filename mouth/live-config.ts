/**
 * The mouth's networks changed while it runs (`hive reload`, docs/cli.md#hive-reload): the
 * supervisor calls org.hive.Mouth1.Configure on the mouth with the new `networks:` of the config,
 * and the mouth applies the difference network by network, leaving the others alone:
 *
 * - a network added: made and connected; removed: QUIT and gone;
 * - only its channels changed: the channels joined and parted on the open connection
 *   (Network.setChannels; a network without it is restarted instead);
 * - anything else changed (server, nick, SASL, flood, …): that network alone reconnects. Its
 *   successor is made first: one that cannot be made (a ca_file or client key that cannot be read)
 *   leaves the working connection as it is, and the change is tried again at the next Configure
 *   (the mouth compares against what it runs, not against the file).
 *
 * Only the supervisor may call it: the caller must own org.hive.<instance>.Supervisor, as for
 * SetParent (docs/security.md). The terminal network cannot come or go (the mouth's stdin and
 * stdout are set when it starts): refused. Calls are applied one after the other.
 */
import type { Logger } from 'pino';
import { HiveError } from '../protocol/errors.js';
import { NAME_PATTERN, supervisorBusName } from '../protocol/names.js';
import { MOUTH1, MOUTH_PATH } from '../protocol/mouth1.js';
import { channelsOf, networkChanges, refusedChange } from '../protocol/network-changes.js';
import { nameOwner, type MessageBus } from '../protocol/sdk/bus.js';
import { serveObject } from '../protocol/sdk/service.js';
import type { NetworkConfig } from './network-config.js';
import type { Network } from './network.js';

/** The largest networks JSON taken (the bus gate bounds the call anyway): a config is far smaller. */
const CONFIGURE_MAX = 128 * 1024;

/**
 * The check of what Configure is sent, made at the first call: zod (about 6 MB PSS) only in a mouth
 * that has been reloaded, not in every mouth for a call most never get (issue 17).
 */
async function makeNetworksSchema() {
  const [{ z }, { networkSchema }] = await Promise.all([import('zod'), import('./network-config.js')]);
  return z.record(z.string().regex(NAME_PATTERN), networkSchema);
}
let networksSchema: ReturnType<typeof makeNetworksSchema> | undefined;

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
  /** Called with the networks wanted before any is made (a module to load for a type the mouth did not have). */
  prepare?: (configs: Record<string, NetworkConfig>) => Promise<void>;
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

  /**
   * Makes `name`'s successor (it may throw: nothing changed then). The counters the old network
   * has and the new one does not define again go with the old one (a network of another type).
   */
  const successor = (name: string, config: NetworkConfig): Network => {
    const own = (k: string) => k.startsWith(`${name}.`);
    const getters = new Map(Object.keys(o.counters).filter(own).map((k) => [k, Object.getOwnPropertyDescriptor(o.counters, k)?.get]));
    const n = o.create(name, config);
    for (const [k, get] of getters) if (Object.getOwnPropertyDescriptor(o.counters, k)?.get === get) delete o.counters[k];
    return n;
  };
  /** The old connection goes only once its successor is made. */
  const replace = async (name: string, current: Network | undefined, config: NetworkConfig, why: string): Promise<void> => {
    const n = successor(name, config);
    await current?.stop(why);
    o.networks.set(name, n);
    await n.start();
  };

  const apply = async (next: Record<string, NetworkConfig>): Promise<{ network: string; did: string }[]> => {
    const changes = networkChanges(configs, next);
    const refused = changes.map((c) => refusedChange(c, configs, next)).filter((r): r is string => r !== undefined);
    if (refused.length) throw new HiveError('InvalidArgs', refused.join('; '));
    await o.prepare?.(next);
    const done: { network: string; did: string }[] = [];
    const failed: string[] = [];
    for (const change of changes) {
      const name = change.network;
      const log = o.log.child({ network: name });
      try {
        const current = o.networks.get(name);
        if (change.do === 'remove') {
          await current?.stop('Hive: network removed');
          o.networks.delete(name);
          o.forget?.(name);
        }
        if (change.do === 'restart') await replace(name, current, next[name]!, 'Hive: reconnecting with a new configuration');
        // (An added network that is there already is one whose start failed at an earlier Configure.)
        if (change.do === 'add') await replace(name, current, next[name]!, 'Hive: network added again');
        if (change.do === 'channels') {
          if (current?.setChannels) await current.setChannels(channelsOf(next[name]!));
          else {
            // A network that cannot change its channels live reconnects with them.
            await replace(name, current, next[name]!, 'Hive: reconnecting with new channels');
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
        const schema = await (networksSchema ??= makeNetworksSchema());
        let parsed;
        try { parsed = schema.safeParse(JSON.parse(text)); } catch { throw refuse(new HiveError('InvalidArgs', 'Configure: networks is not JSON')); }
        if (!parsed.success) throw refuse(new HiveError('InvalidArgs', `Configure: ${parsed.error.issues.slice(0, 5).map((i) => `networks.${i.path.join('.')}: ${i.message}`).join('; ')}`));
        const run = queue.then(() => apply(parsed.data));
        queue = run.catch(() => undefined);
        return [JSON.stringify(await run)];
      },
    },
  });
}
