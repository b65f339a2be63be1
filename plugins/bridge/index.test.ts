// The bridge's message handling against a fake context: what it sends for lines the real servers
// in test/plugins/bridge.test.ts cannot produce (echo-message, bytes that are not UTF-8, NICK).
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { toIncoming, type HiveMessage, type Incoming, type Meta } from '../../protocol/sdk/index.js';
import bridge from './index.js';
import { configSchema } from './config.js';
import { plainText } from './format.js';

function fakeHive(config: Record<string, unknown>, failOn: string[] = []) {
  const sent: { network: string; lines: string[]; bytes: Buffer[] }[] = [];
  let handler: ((m: Incoming) => unknown) | undefined;
  const node = { counters: { in: 0, out: 0, dropped: 0, errors: 0 } as Record<string, number>, onAttached: undefined as undefined | ((p: string) => void) };
  const ctx = {
    // The runtime hands the plugin its config parsed by the schema.
    name: 'bridge', kind: 'automaton', config: configSchema.parse(config), stateDir: undefined, log: pino({ level: 'silent' }), commandPrefix: '!',
    count: (name: string, by = 1) => { node.counters[name] = (node.counters[name] ?? 0) + by; },
    onAttached: (fn: (p: string) => void) => { node.onAttached = fn; },
    onMessage: (h: (m: Incoming) => unknown) => { handler = h; },
    send: async (msg: HiveMessage) => {
      const network = String(msg.meta['hive.network']);
      if (failOn.includes(network)) throw new Error(`org.hive.Error.NetworkUnknown: no network '${network}'`);
      sent.push({ network, lines: msg.lines.map((l) => plainText(l.toString('utf8'))), bytes: msg.lines });
    },
  } as unknown as Parameters<typeof bridge.setup>[0];
  bridge.setup(ctx);
  const feed = async (network: string, line: string | Buffer, meta: Meta = {}) => {
    const msg = toIncoming({ lines: [typeof line === 'string' ? Buffer.from(line) : line], meta: { 'hive.network': network, 'hive.nick': 'hivebot', 'hive.event': 'line', 'hive.id': 'm1', ...meta } });
    await handler!(msg);
  };
  const event = async (network: string, what: 'disconnected' | 'registered') => {
    await handler!(toIncoming({ lines: [], meta: { 'hive.network': network, 'hive.nick': 'hivebot', 'hive.event': what } }));
  };
  return { sent, feed, event, node };
}

const groups = { devs: ['a/#hive', 'b/#hive', 'console/#console'] };

describe('bridge handler', () => {
  it('relays a line to every other channel of the group, one message per network', async () => {
    const h = fakeHive({ groups: { devs: [...groups.devs, 'a/#side'] } });
    await h.feed('a', ':alice!u@h PRIVMSG #Hive :hello');
    expect(h.sent.sort((x, y) => x.network.localeCompare(y.network))).toMatchObject([
      { network: 'a', lines: ['PRIVMSG #side :<alice> hello'] },
      { network: 'b', lines: ['PRIVMSG #hive :<alice> hello'] },
      { network: 'console', lines: ['PRIVMSG #console :<alice> hello'] },
    ]);
    expect(h.node.counters.relayed).toBe(3);
  });

  it('never relays the bot\'s own lines (echo-message), nor ignored nicks, server notices, private messages or queries', async () => {
    const h = fakeHive({ groups, ignore: ['otherbot'], notices: true });
    await h.feed('a', ':hivebot!u@h PRIVMSG #hive :<bob> relayed before');
    await h.feed('a', ':HiveBot!u@h PRIVMSG #hive :case does not matter');
    await h.feed('a', ':otherbot!u@h PRIVMSG #hive :<carol> from elsewhere');
    await h.feed('a', ':irc.test NOTICE #hive :server going down');
    await h.feed('a', ':alice!u@h PRIVMSG hivebot :private');
    await h.feed('a', ':alice!u@h PRIVMSG #hive :!ping', { 'hive.query': true });
    await h.feed('a', ':alice!u@h PRIVMSG #elsewhere :not bridged');
    expect(h.sent).toEqual([]);
    // After a nick change the new nick is the bot's.
    await h.feed('a', ':hivebot2!u@h PRIVMSG #hive :me again', { 'hive.nick': 'hivebot2' });
    expect(h.sent).toEqual([]);
  });

  it('relays NOTICEs only when configured, as NOTICEs', async () => {
    const off = fakeHive({ groups });
    await off.feed('a', ':alice!u@h NOTICE #hive :psst');
    expect(off.sent).toEqual([]);
    const on = fakeHive({ groups, notices: true });
    await on.feed('a', ':alice!u@h NOTICE #hive :psst');
    expect(on.sent.map((s) => s.lines)).toEqual([['NOTICE #hive :-alice- psst'], ['NOTICE #console :-alice- psst']]);
  });

  it('passes the speaker\'s bytes on untouched, even when they are not UTF-8', async () => {
    const h = fakeHive({ groups: { g: ['a/#x', 'b/#x'] }, colours: false, no_highlight: false });
    await h.feed('a', Buffer.concat([Buffer.from(':alice!u@h PRIVMSG #x :caf'), Buffer.from([0xe9, 0xff])]));
    expect(h.sent[0]!.bytes[0]).toEqual(Buffer.concat([Buffer.from('PRIVMSG #x :<alice> caf'), Buffer.from([0xe9, 0xff])]));
  });

  it('colours for IRC networks, plain for the ones listed in plain', async () => {
    const h = fakeHive({ groups, plain: ['console'] });
    await h.feed('a', ':alice!u@h PRIVMSG #hive :hi');
    const raw = Object.fromEntries(h.sent.map((s) => [s.network, s.bytes[0]!.toString()]));
    expect(raw.b).toMatch(/^PRIVMSG #hive :<\x03\d\da\u200blice\x03> hi$/);
    expect(raw.console).toBe('PRIVMSG #console :<a\u200blice> hi');
  });

  it('relays nick changes and quits to the groups the user was in (from NAMES), once each', async () => {
    const h = fakeHive({ groups: { g: ['a/#x', 'a/#y', 'b/#z'] }, events: { quits: true, nicks: true } });
    await h.feed('a', ':irc.test 353 hivebot = #x :@hivebot alice +bob');
    await h.feed('a', ':irc.test 366 hivebot #x :End of /NAMES list.');
    await h.feed('a', ':irc.test 353 hivebot = #y :alice');
    await h.feed('a', ':irc.test 366 hivebot #y :End of /NAMES list.');
    await h.feed('a', ':alice!u@h NICK :alicia');
    // Seen in #x and #y: those saw it themselves; #z gets it once.
    expect(h.sent.map((s) => [s.network, s.lines])).toEqual([['b', ['PRIVMSG #z :* alice is now known as alicia']]]);
    h.sent.length = 0;
    await h.feed('a', ':bob!u@h QUIT :Quit: bye');
    expect(h.sent.map((s) => [s.network, s.lines]).sort()).toEqual([['a', ['PRIVMSG #y :* bob has quit (Quit: bye)']], ['b', ['PRIVMSG #z :* bob has quit (Quit: bye)']]]);
    h.sent.length = 0;
    // Someone the bot never saw in a bridged channel: nothing to say.
    await h.feed('a', ':stranger!u@h QUIT :bye');
    expect(h.sent).toEqual([]);
    // A network that went away forgets who was there (the channels are rejoined, with fresh NAMES).
    await h.event('a', 'disconnected');
    await h.feed('a', ':alicia!u@h QUIT :bye');
    expect(h.sent).toEqual([]);
  });

  it('a network that refuses is logged and counted; the others still get the relay', async () => {
    const h = fakeHive({ groups }, ['b']);
    await h.feed('a', ':alice!u@h PRIVMSG #hive :hello');
    expect(h.sent.map((s) => s.network)).toEqual(['console']);
    expect(h.node.counters.relay_failed).toBe(1);
    expect(h.node.counters.relayed).toBe(1);
  });

  it('asks NAMES of its channels when it attaches, if quits or nicks are relayed', async () => {
    const h = fakeHive({ groups, events: { quits: true } });
    h.node.onAttached!('mouth');
    await new Promise((r) => setTimeout(r, 10));
    expect(h.sent.map((s) => [s.network, s.lines])).toEqual([['a', ['NAMES #hive']], ['b', ['NAMES #hive']], ['console', ['NAMES #console']]]);
    expect(fakeHive({ groups }).node.onAttached).toBeUndefined();
  });
});
