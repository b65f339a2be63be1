// The `type: xmpp` network's config: defaults worked out from the JID, secrets from the
// environment, and each mistake refused with the key that has it.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../tree-supervisor/config.js';
import { ConfigError } from '../../tree-supervisor/config-errors.js';
import { xmppNetworkSchema } from '../../mouth/network-config.js';

const base = { type: 'xmpp', jid: 'hive@example.org', password: 'pw' };

function problemsOf(network: Record<string, unknown>, env: Record<string, string> = {}): string[] {
  try {
    parseConfig({ networks: { jabber: network }, plugins: [] }, { env });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.keyPath.join('.')}: ${p.message}`);
    throw err;
  }
  return [];
}

describe('xmpp network config', () => {
  it('works out host, port, nick and the rooms from little', () => {
    const n = xmppNetworkSchema.parse({ ...base, rooms: ['Hive@Conference.Example.org', { jid: 'staff@conference.example.org', password: 'k', nick: 'hivebot' }] });
    expect(n).toMatchObject({
      host: 'example.org', port: 5222, tls: 'starttls', tls_verify: true, resource: 'hive', nick: 'hive',
      rooms: [{ jid: 'hive@conference.example.org' }, { jid: 'staff@conference.example.org', password: 'k', nick: 'hivebot' }],
      flood: { burst: 5, rate: 1 }, queue_max: 500, max_message_bytes: 16384,
      reconnect: { min_delay: 1000, max_delay: 120_000, stable_after: 60_000 },
    });
    expect(xmppNetworkSchema.parse({ ...base, tls: 'direct' }).port).toBe(5223);
    // A localpart that is no IRC nick gives the default nick.
    expect(xmppNetworkSchema.parse({ ...base, jid: '9.bot@example.org' }).nick).toBe('hive');
  });

  it('takes the password from the environment, as IRC secrets', () => {
    const { config, secretPaths } = parseConfig({ networks: { jabber: { ...base, password: '${XMPP_PW}' } }, plugins: [] }, { env: { XMPP_PW: 's3cret' } });
    expect(config.networks.jabber).toMatchObject({ type: 'xmpp', password: 's3cret' });
    expect([...secretPaths]).toEqual(['networks.jabber.password']);
    expect(problemsOf({ ...base, password: '${XMPP_PW}' })).toEqual(['networks.jabber.password: environment variable XMPP_PW is not set']);
  });

  it('names the key of each mistake', () => {
    const one = (n: Record<string, unknown>) => problemsOf(n).map((p) => p.split(':')[0]);
    expect(one({ ...base, jid: 'no-at-sign' })).toEqual(['networks.jabber.jid']);
    expect(one({ type: 'xmpp', jid: 'a@b' })).toEqual(['networks.jabber.password']);
    expect(one({ ...base, tls: 'yes' })).toEqual(['networks.jabber.tls']);
    expect(one({ ...base, port: 70_000 })).toEqual(['networks.jabber.port']);
    expect(one({ ...base, nick: 'has space' })).toEqual(['networks.jabber.nick']);
    expect(one({ ...base, rooms: ['#irc-style'] })).toEqual(['networks.jabber.rooms.0']);
    expect(one({ ...base, rooms: [{ jid: 'r@c.org', nick: '9lives' }] })).toEqual(['networks.jabber.rooms.0.nick']);
    expect(one({ ...base, rooms: ['r@c.org', 'R@C.org'] })).toEqual(['networks.jabber.rooms.1']);
    expect(one({ ...base, max_message_bytes: 10 })).toEqual(['networks.jabber.max_message_bytes']);
    expect(one({ ...base, reconnect: { min_delay: '5m', max_delay: '1s' } })).toEqual(['networks.jabber.reconnect.min_delay']);
    expect(one({ ...base, channels: ['#x'] })).toEqual(['networks.jabber.channels']);
  });
});
