// A mouth started by the supervisor (HIVE_VOUCH=1) takes HIVE_CONFIG as the supervisor checked it
// and loads no zod (issue 17): that skips a second parse with the same schemas, which is only sound
// if parsing the supervisor's output again (as JSON, as HIVE_CONFIG carries it) gives it back
// unchanged. Held here for every kind of network, with the defaults, transforms (channels, flood,
// durations, lower-cased JIDs, upper-cased commands) and cross-field rules each has.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { networkSchema } from '../../mouth/network-config.js';
import { parseConfig } from '../../tree-supervisor/config.js';

const NETWORKS: Record<string, unknown> = {
  plain: { type: 'irc', host: 'irc.example.org', nick: 'hive', channels: ['#hive'] },
  tls: {
    type: 'irc', host: 'irc.example.org', tls: true, tls_verify: false, ca_file: '/etc/ssl/ca.pem', nick: 'hive', alt_nicks: ['hive_', 'hive__'],
    username: 'bot', realname: 'Hive bot', password: 'server-pw',
    sasl: { mechanism: 'PLAIN', account: 'hive', password: 'secret', retry: '2m' },
    channels: ['#a', { name: '#b', key: 'k3y' }], allow_commands: ['privmsg', 'NOTICE', '001'],
    flood: { burst: 3 }, queue_max: 50, reconnect: { min_delay: '2s', max_delay: '5m', stable_after: 30_000 },
    rejoin_delay: 1000, ping_timeout: '90s', nick_regain: '1m',
  },
  external: { type: 'irc', host: '127.0.0.1', port: 7000, tls: true, client_cert: '/tmp/c.pem', client_key: '/tmp/k.pem', nick: 'x', sasl: { mechanism: 'EXTERNAL' }, flood: { rate: 0 } },
  jabber: {
    type: 'xmpp', jid: 'Hive@Example.org', password: 'pw', host: 'xmpp.example.org', port: 5223, tls: 'direct', resource: 'bot',
    nick: 'hive', rooms: ['Room@Conference.Example.org', { jid: 'b@conference.example.org', password: 'rp', nick: 'hb' }],
    trusted_room_services: ['Conference.Example.org'], flood: { burst: 2, rate: 0.5 }, max_message_bytes: 4096,
    reconnect: { min_delay: 500 }, connect_timeout: '10s',
  },
  jabber_defaults: { type: 'xmpp', jid: 'hive@localhost', password: 'pw', tls: 'none' },
  term: { type: 'terminal', channel: '#console', user: 'me', quiet_ms: '1s' },
  term_defaults: { type: 'terminal' },
  script: { type: 'script', socket: '/tmp/hive-test.sock', nick: 'bot', channel: '#t' },
  script_defaults: { type: 'script', socket: '/tmp/hive-test2.sock' },
};

const overJson = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

describe('networkSchema on its own output (what the mouth would parse again)', () => {
  for (const [name, input] of Object.entries(NETWORKS)) {
    it(`${name}: parsing the parsed network again, through JSON, gives it back`, () => {
      const once = networkSchema.parse(input);
      const carried = overJson(once);
      expect(carried).toEqual(once); // nothing JSON cannot carry (undefined, Infinity, a Date)
      expect(networkSchema.parse(carried)).toEqual(carried);
      expect(once).not.toEqual(input); // the schema did change it (defaults, transforms): the check is not vacuous
    });
  }

  it('a network the schema refuses is refused whatever the first parse would have made of it', () => {
    expect(networkSchema.safeParse({ type: 'irc', host: 'h', nick: '1bad' }).success).toBe(false);
    expect(networkSchema.safeParse({ ...networkSchema.parse(NETWORKS.plain), bogus: 1 }).success).toBe(false);
  });
});

describe('the supervisor\'s checked config, as HIVE_CONFIG carries it to the mouth', () => {
  it('is what the mouth\'s own check of it would make (the config check, secrets and paths resolved)', () => {
    const { config } = parseConfig(
      { instance: 'idem', bus: 'private', networks: { ...NETWORKS, tls: { ...(NETWORKS.tls as object), ca_file: 'relative/ca.pem', sasl: { mechanism: 'PLAIN', account: 'hive', password: '${IDEM_PW}' } } }, plugins: [] },
      { baseDir: '/srv/hive', env: { IDEM_PW: 'from-env' } },
    );
    const hiveConfig = overJson({ networks: config.networks }) as { networks: Record<string, unknown> };
    const mouthSchema = z.object({ networks: z.record(z.string(), networkSchema) }).loose();
    expect(mouthSchema.parse(hiveConfig)).toEqual(hiveConfig);
    expect(Object.keys(hiveConfig.networks).sort()).toEqual(Object.keys(NETWORKS).sort());
    expect((hiveConfig.networks.tls as { ca_file: string; sasl: { password: string } }).ca_file).toBe('/srv/hive/relative/ca.pem');
    expect((hiveConfig.networks.tls as { sasl: { password: string } }).sasl.password).toBe('from-env');
  });
});
