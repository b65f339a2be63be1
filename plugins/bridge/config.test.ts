import { describe, expect, it } from 'vitest';
import { buildRoutes, configSchema } from './config.js';

const issues = (cfg: unknown) => {
  const r = configSchema.safeParse(cfg);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('bridge config', () => {
  it('fills in the defaults', () => {
    const cfg = configSchema.parse({ groups: { devs: ['a/#hive', 'console/#console'] } });
    expect(cfg).toEqual({
      groups: { devs: ['a/#hive', 'console/#console'] },
      events: { joins: false, parts: false, quits: false, nicks: false },
      notices: false, colours: true, plain: [], no_highlight: true, max_lines: 10, irc_networks: [], ignore: [],
    });
  });

  it('refuses bad endpoints, lone channels and unknown keys with where and why', () => {
    expect(issues({ groups: { devs: ['a#hive', 'b/hive'] } })).toEqual([
      'groups.devs.0: expected "network/#channel", e.g. "libera/#hive"',
      'groups.devs.1: expected "network/#channel", e.g. "libera/#hive"',
    ]);
    expect(issues({ groups: { devs: ['a/#hive'] } })).toEqual(['groups.devs: a group needs at least two channels to relay between']);
    expect(issues({ groups: {} })[0]).toMatch(/at least one group/);
    expect(issues({ groups: { d: ['a/#x', 'b/#x'] }, events: { join: true } })[0]).toMatch(/^events: .*join/);
    expect(issues({ groups: { d: ['a/#x', 'b/#x'] }, colors: true })[0]).toMatch(/colors/);
    expect(issues({ groups: { d: ['1a/#x', 'b/#x bad'] } })).toHaveLength(2);
  });

  it('takes an XMPP room as a channel (#room@conference.example.org), case-insensitive like any channel', () => {
    expect(issues({ groups: { d: ['libera/#hive', 'jabber/#hive@conference.example.org'] } })).toEqual([]);
    expect(issues({ groups: { d: ['j/#Hive@conference.localhost', 'j/#hive@conference.localhost'] } })[0]).toMatch(/listed twice/);
    expect(issues({ groups: { d: ['a/#x', 'b/#x'] }, max_lines: 0 })[0]).toMatch(/^max_lines: /);
  });

  it('a channel belongs to one group only (case-insensitive), and once', () => {
    expect(issues({ groups: { one: ['a/#Hive', 'b/#x'], two: ['a/#hive', 'c/#y'] } })).toEqual([
      'groups.two.0: "a/#hive" is already in group one; a channel belongs to one group (merge the groups to bridge them all)',
    ]);
    expect(issues({ groups: { one: ['a/#x', 'b/#x', 'a/#X'] } })).toEqual(['groups.one.2: "a/#X" is listed twice in group one']);
    // The same channel name on two networks is two channels.
    expect(issues({ groups: { one: ['a/#x', 'b/#x'], two: ['c/#x', 'd/#x'] } })).toEqual([]);
  });
});

describe('routes', () => {
  it('finds a channel by network and case-folded name, and the rest of its group', () => {
    const r = buildRoutes({ one: ['a/#Hive', 'b/#hive', 'a/#other'], two: ['c/#x', 'd/#y'] });
    const from = r.find('a', '#HIVE')!;
    expect(from).toEqual({ group: 'one', network: 'a', channel: '#Hive' });
    expect(r.others(from).map((e) => `${e.network}/${e.channel}`)).toEqual(['b/#hive', 'a/#other']);
    expect(r.find('A', '#hive')).toBeUndefined();
    expect(r.find('c', '#y')).toBeUndefined();
    expect(r.all).toHaveLength(5);
  });
});
