// The bridge's message handling against a fake context: what it sends for lines the real servers
// in test/plugins/bridge.test.ts cannot produce (echo-message, bytes that are not UTF-8, NICK).
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { toIncoming, type HiveMessage, type Incoming, type Meta } from '../../protocol/sdk/index.js';
import bridge from './index.js';
import { configSchema } from './config.js';
import { plainText } from './format.js';

function fakeHive(config: Record<string, unknown>, failOn: string[] = []) {
  const sent: { network: string; lines: string[]; bytes: Buffer[]; meta: Meta }[] = [];
  let handler: ((m: Incoming) => unknown) | undefined;
  const node = { counters: { in: 0, out: 0, dropped: 0, errors: 0 } as Record<string, number>, onAttached: undefined as undefined | ((p: string) => void), details: () => ({}) as Record<string, unknown> };
  const ctx = {
    // The runtime hands the plugin its config parsed by the schema.
    name: 'bridge', kind: 'automaton', config: configSchema.parse(config), stateDir: undefined, log: pino({ level: 'silent' }), commandPrefix: '!',
    count: (name: string, by = 1) => { node.counters[name] = (node.counters[name] ?? 0) + by; },
    onAttached: (fn: (p: string) => void) => { node.onAttached = fn; },
    onMessage: (h: (m: Incoming) => unknown) => { handler = h; },
    details: (fn: () => Record<string, unknown>) => { node.details = fn; },
    send: async (msg: HiveMessage) => {
      const network = String(msg.meta['hive.network']);
      if (failOn.includes(network)) throw new Error(`org.hive.Error.NetworkUnknown: no network '${network}'`);
      sent.push({ network, lines: msg.lines.map((l) => plainText(l.toString('utf8'))), bytes: msg.lines, meta: msg.meta });
    },
  } as unknown as Parameters<typeof bridge.setup>[0];
  bridge.setup(ctx);
  const feed = async (network: string, line: string | Buffer | string[], meta: Meta = {}) => {
    const lines = Array.isArray(line) ? line.map((l) => Buffer.from(l)) : [typeof line === 'string' ? Buffer.from(line) : line];
    const msg = toIncoming({ lines, meta: { 'hive.network': network, 'hive.nick': 'hivebot', 'hive.event': 'line', 'hive.id': 'm1', ...meta } });
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

  it('an IRC-only group remembers nothing (no ids to keep): s/old/new/ is an ordinary line', async () => {
    const h = fakeHive({ groups, colours: false, no_highlight: false });
    await h.feed('a', ':alice!u@h PRIVMSG #hive :helo');
    await h.feed('a', ':alice!u@h PRIVMSG #hive :s/helo/hello/');
    expect(h.sent.filter((s) => s.network === 'b').map((s) => s.lines)).toEqual([['PRIVMSG #hive :<alice> helo'], ['PRIVMSG #hive :<alice> s/helo/hello/']]);
    expect(h.node.details()).toEqual({ remembered: 0 });
    const r = fakeHive({ groups: { g: ['a/#hive', 'x/#r@muc.example.org'] } });
    await r.feed('a', ':alice!u@h PRIVMSG #hive :helo');
    expect(r.node.details()).toEqual({ remembered: 1 });
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

describe('bridge handler with XMPP rooms (native replies and corrections)', () => {
  const A = '#a@conference.localhost';
  const B = '#b@conference.localhost';
  const rooms = { g: ['irc/#hive', `x/${A}`, `x/${B}`] };
  const to = (h: ReturnType<typeof fakeHive>, channel: string) => h.sent.filter((s) => s.lines[0]!.split(' ')[1] === channel);
  const last = (h: ReturnType<typeof fakeHive>, channel: string) => to(h, channel).at(-1)!;

  it('relays a room\'s line to IRC with a coloured nick and to the other room plain, as a copy with an id of its own', async () => {
    const h = fakeHive({ groups: rooms });
    await h.feed('x', `:alice!alice@localhost PRIVMSG ${A} :hello`, { 'hive.msgid': 'm1' });
    expect(last(h, '#hive').bytes[0]!.toString()).toMatch(/^PRIVMSG #hive :<\x03\d\da\u200blice\x03> hello$/);
    const copy = last(h, B);
    expect(copy.bytes[0]!.toString()).toBe(`PRIVMSG ${B} :<a\u200blice> hello`);
    expect(copy.meta['hive.msgid']).toMatch(/^bridge-/);
    expect(copy.meta['hive.reply_to']).toBeUndefined();
    // The room reflects the copy back. From the bot's nick, with the room's own id (a room that
    // stamps stanza-ids): the nick is what stops it.
    const before = h.sent.length;
    await h.feed('x', `:hivebot!hivebot@localhost PRIVMSG ${B} :<alice> hello`, { 'hive.msgid': 'room-stanza-id-1' });
    expect(h.sent.length).toBe(before);
    // Under another nick of the bot, in a room that keeps the sender's id (ours): the id stops it.
    await h.feed('x', `:hivebot2!hivebot@localhost PRIVMSG ${B} :<alice> hello`, { 'hive.msgid': String(copy.meta['hive.msgid']) });
    expect(h.sent.length).toBe(before);
  });

  it('strips IRC formatting for rooms, keeps it for IRC', async () => {
    const h = fakeHive({ groups: { g: ['irc/#hive', 'irc2/#hive', `x/${A}`] }, colours: false });
    await h.feed('irc', ':alice!u@h PRIVMSG #hive :\x02bold\x02 and \x0304red\x03');
    expect(last(h, A).bytes[0]!.toString()).toBe(`PRIVMSG ${A} :<a\u200blice> bold and red`);
    expect(h.sent.find((s) => s.network === 'irc2')!.bytes[0]!.toString()).toBe('PRIVMSG #hive :<a\u200blice> \x02bold\x02 and \x0304red\x03');
  });

  it('shows a reply on IRC with a short quote, and passes it to another room as a reply to the copy', async () => {
    const h = fakeHive({ groups: rooms, colours: false });
    await h.feed('x', `:alice!alice@localhost PRIVMSG ${A} :the first words of a rather long line that will not fit in a quote at all`, { 'hive.msgid': 'm1' });
    const copyInB = last(h, B).meta['hive.msgid'];
    await h.feed('x', `:bob!bob@localhost PRIVMSG ${A} :I agree`, { 'hive.msgid': 'm2', 'hive.reply_msgid': 'm1' });
    expect(last(h, '#hive').lines).toEqual(['PRIVMSG #hive :<bob> ↪ alice: "the first words of a rather long line that will not fit in…" — I agree']);
    const reply = last(h, B);
    expect(reply.lines).toEqual([`PRIVMSG ${B} :<bob> I agree`]);
    expect(reply.meta['hive.reply_msgid']).toBe(copyInB);
    // A reply in room B to the copy there reaches room A as a reply to alice's original.
    await h.feed('x', `:carol!carol@localhost PRIVMSG ${B} :me too`, { 'hive.msgid': 'm3', 'hive.reply_msgid': String(copyInB) });
    expect(last(h, A).meta['hive.reply_msgid']).toBe('m1');
    expect(last(h, '#hive').lines[0]).toMatch(/^PRIVMSG #hive :<carol> ↪ alice: "the first/);
    // A reply to something never seen: the text alone.
    await h.feed('x', `:bob!bob@localhost PRIVMSG ${A} :what?`, { 'hive.msgid': 'm4', 'hive.reply_msgid': 'unknown' });
    expect(last(h, '#hive').lines).toEqual(['PRIVMSG #hive :<bob> what?']);
    expect(last(h, B).meta['hive.reply_msgid']).toBeUndefined();
  });

  it('a reply in a room to a relayed IRC line quotes the IRC speaker', async () => {
    const h = fakeHive({ groups: rooms, colours: false, no_highlight: false });
    await h.feed('irc', ':dave!u@h PRIVMSG #hive :anyone here?');
    const copyInA = String(last(h, A).meta['hive.msgid']);
    const copyInB = String(last(h, B).meta['hive.msgid']);
    expect(copyInA).not.toBe(copyInB);
    await h.feed('x', `:bob!bob@localhost PRIVMSG ${A} :yes`, { 'hive.msgid': 'r1', 'hive.reply_msgid': copyInA });
    expect(last(h, '#hive').lines).toEqual(['PRIVMSG #hive :<bob> ↪ dave: "anyone here?" — yes']);
    // With no_highlight: dave is in #hive and is being answered, so his nick is highlighted there
    // (no zero-width space), as an IRC reply would; the speaker's is not.
    const n = fakeHive({ groups: rooms, colours: false });
    await n.feed('irc', ':dave!u@h PRIVMSG #hive :anyone here?');
    await n.feed('x', `:bob!bob@localhost PRIVMSG ${A} :yes`, { 'hive.msgid': 'r1', 'hive.reply_msgid': String(last(n, A).meta['hive.msgid']) });
    expect(last(n, '#hive').bytes[0]!.toString()).toBe('PRIVMSG #hive :<b\u200bob> ↪ dave: "anyone here?" — yes');
    expect(last(h, B)).toMatchObject({ lines: [`PRIVMSG ${B} :<bob> yes`], meta: { 'hive.reply_msgid': copyInB } });
  });

  it('shows a room\'s correction on IRC as s/old/new/ or marked, and corrects the copy in the other room', async () => {
    const h = fakeHive({ groups: rooms, colours: false, no_highlight: false });
    await h.feed('x', `:alice!alice@localhost PRIVMSG ${A} :I like teh cats`, { 'hive.msgid': 'm1' });
    const copy = last(h, B).meta['hive.msgid'];
    const n = h.sent.length;
    await h.feed('x', `:alice!alice@localhost PRIVMSG ${A} :I like the cats`, { 'hive.msgid': 'm1b', 'hive.replaces': 'm1' });
    expect(h.sent.length).toBe(n + 2); // one each, no duplicate message
    expect(last(h, '#hive').lines).toEqual(['PRIVMSG #hive :<alice> s/teh/the/']);
    expect(last(h, B)).toMatchObject({ lines: [`PRIVMSG ${B} :<alice> I like the cats`], meta: { 'hive.replaces': copy } });
    expect(last(h, B).meta['hive.msgid']).not.toBe(copy);
    // A second correction of the same original, against the corrected text.
    await h.feed('x', `:alice!alice@localhost PRIVMSG ${A} :I like the cats and dogs`, { 'hive.msgid': 'm1x', 'hive.replaces': 'm1' });
    expect(last(h, '#hive').lines).toEqual(['PRIVMSG #hive :<alice> * correction: I like the cats and dogs']);
    expect(last(h, B).meta['hive.replaces']).toBe(copy);
    // An id the bridge never saw: not a guess at the speaker's last line (it would replace an
    // unrelated one) but a new line, marked, with no hive.replaces in B.
    await h.feed('x', `:alice!alice@localhost PRIVMSG ${A} :I like the dogs and cats`, { 'hive.msgid': 'm1c', 'hive.replaces': 'client-own-id' });
    expect(last(h, '#hive').lines).toEqual(['PRIVMSG #hive :<alice> * correction: I like the dogs and cats']);
    expect(last(h, B)).toMatchObject({ lines: [`PRIVMSG ${B} :<alice> * correction: I like the dogs and cats`] });
    expect(last(h, B).meta['hive.replaces']).toBeUndefined();
    // A client that names the previous correction's id instead: found.
    await h.feed('x', `:alice!alice@localhost PRIVMSG ${A} :I like the cats and dogs too`, { 'hive.msgid': 'm1d', 'hive.replaces': 'm1x' });
    expect(last(h, '#hive').lines).toEqual(['PRIVMSG #hive :<alice> * correction: I like the cats and dogs too']);
    expect(last(h, B).meta['hive.replaces']).toBe(copy);
  });

  it('hostile: a correction of someone else\'s message (or of a copy the bridge relayed) changes nothing of theirs', async () => {
    const h = fakeHive({ groups: rooms, colours: false, no_highlight: false });
    await h.feed('x', `:alice!alice@localhost PRIVMSG ${A} :I love this project`, { 'hive.msgid': 'a1', 'hive.account': 'alice@localhost' });
    const copy = last(h, B).meta['hive.msgid'];
    await h.feed('x', `:mallory!m@localhost PRIVMSG ${A} :I hate this project`, { 'hive.msgid': 'x1', 'hive.replaces': 'a1' });
    expect(last(h, '#hive').lines).toEqual(['PRIVMSG #hive :<mallory> * correction: I hate this project']);
    expect(last(h, B).meta['hive.replaces']).toBeUndefined();
    expect(h.node.counters.corrections_refused).toBe(1);
    // Same nick, another account (the nick changed hands): refused too.
    await h.feed('x', `:alice!alice@localhost PRIVMSG ${A} :I hate it`, { 'hive.msgid': 'x2', 'hive.replaces': 'a1', 'hive.account': 'eve@localhost' });
    expect(last(h, B).meta['hive.replaces']).toBeUndefined();
    // alice herself still can, and her text was not overwritten.
    await h.feed('x', `:alice!alice@localhost PRIVMSG ${A} :I really love this project`, { 'hive.msgid': 'a2', 'hive.replaces': 'a1', 'hive.account': 'alice@localhost' });
    expect(last(h, '#hive').lines).toEqual(['PRIVMSG #hive :<alice> * correction: I really love this project']);
    expect(last(h, B).meta['hive.replaces']).toBe(copy);
    // The bot's copy of an IRC user's line, named from a room: dave's line stays his.
    await h.feed('irc', ':dave!u@h PRIVMSG #hive :we deploy today');
    const daveCopy = String(last(h, A).meta['hive.msgid']);
    await h.feed('x', `:dave!m@localhost PRIVMSG ${A} :we never deploy`, { 'hive.msgid': 'x3', 'hive.replaces': daveCopy });
    expect(last(h, B).meta['hive.replaces']).toBeUndefined();
    await h.feed('irc', ':dave!u@h PRIVMSG #hive :s/deploy/release/');
    expect(last(h, A).lines).toEqual([`PRIVMSG ${A} :<dave> we release today`]);
    expect(last(h, A).meta['hive.replaces']).toBe(daveCopy);
  });

  it('a correction of a forgotten id never replaces the speaker\'s latest line, nor does history become their latest', async () => {
    const h = fakeHive({ groups: rooms, colours: false, no_highlight: false });
    await h.feed('x', `:alice!alice@localhost PRIVMSG ${A} :an unrelated line`, { 'hive.msgid': 'u1' });
    const n = to(h, B).length;
    await h.feed('x', `:alice!alice@localhost PRIVMSG ${A} :fixed`, { 'hive.msgid': 'u2', 'hive.replaces': 'forgotten-long-ago' });
    expect(to(h, B).length).toBe(n + 1);
    expect(last(h, B)).toMatchObject({ lines: [`PRIVMSG ${B} :<alice> * correction: fixed`] });
    expect(last(h, B).meta['hive.replaces']).toBeUndefined();
    // An IRC user's history line (replayed on rejoin) is not their latest: their s/// does not reach it.
    const i = fakeHive({ groups: { g: [`x/${A}`, 'irc/#hive', `x/${B}`] }, colours: false, no_highlight: false });
    await i.feed('irc', ':dave!u@h PRIVMSG #hive :first words');
    await i.feed('x', `:dave!d@localhost PRIVMSG ${A} :old words`, { 'hive.msgid': 'h1', 'hive.history': true });
    await i.feed('x', `:dave!d@localhost PRIVMSG ${A} :new words`, { 'hive.msgid': 'd2', 'hive.replaces': 'h9' });
    expect(last(i, B).meta['hive.replaces']).toBeUndefined();
  });

  it('a correction of an unknown id is a plain line marked as a correction; its later corrections find it', async () => {
    const h = fakeHive({ groups: rooms, colours: false, no_highlight: false });
    await h.feed('x', `:alice!alice@localhost PRIVMSG ${A} :fixed text`, { 'hive.msgid': 'c1', 'hive.replaces': 'forgotten' });
    expect(last(h, '#hive').lines).toEqual(['PRIVMSG #hive :<alice> * correction: fixed text']);
    expect(last(h, B).lines).toEqual([`PRIVMSG ${B} :<alice> * correction: fixed text`]);
    expect(last(h, B).meta['hive.replaces']).toBeUndefined();
    const copy = last(h, B).meta['hive.msgid'];
    await h.feed('x', `:alice!alice@localhost PRIVMSG ${A} :fixed texts`, { 'hive.msgid': 'c2', 'hive.replaces': 'forgotten' });
    expect(last(h, '#hive').lines).toEqual(['PRIVMSG #hive :<alice> s/text/texts/']);
    expect(last(h, B).meta['hive.replaces']).toBe(copy);
  });

  it('an IRC user\'s s/old/new/ right after their line corrects the rooms\' copies; IRC sees the s/// itself', async () => {
    const h = fakeHive({ groups: { g: ['irc/#hive', 'irc2/#hive', `x/${A}`] }, colours: false, no_highlight: false });
    await h.feed('irc', ':dave!u@h PRIVMSG #hive :helo world');
    const copy = last(h, A).meta['hive.msgid'];
    await h.feed('irc', ':dave!u@h PRIVMSG #hive :s/helo/hello/');
    expect(last(h, A)).toMatchObject({ lines: [`PRIVMSG ${A} :<dave> hello world`], meta: { 'hive.replaces': copy } });
    expect(h.sent.filter((s) => s.network === 'irc2').at(-1)!.lines).toEqual(['PRIVMSG #hive :<dave> s/helo/hello/']);
    // One that does not apply is a plain line everywhere.
    await h.feed('irc', ':dave!u@h PRIVMSG #hive :s/nothere/x/');
    expect(last(h, A).lines).toEqual([`PRIVMSG ${A} :<dave> s/nothere/x/`]);
    expect(last(h, A).meta['hive.replaces']).toBeUndefined();
    // Someone else's s/// is not a correction of dave's line.
    await h.feed('irc', ':erin!u@h PRIVMSG #hive :s/world/there/');
    expect(last(h, A).meta['hive.replaces']).toBeUndefined();
  });

  it('an IRC s/old/new/ never reaches a line of someone who left or changed nick; a corrected /me stays an action', async () => {
    const h = fakeHive({ groups: { g: ['irc/#hive', `x/${A}`] }, colours: false, no_highlight: false });
    await h.feed('irc', ':dave!u@h PRIVMSG #hive :\x01ACTION deploys today\x01');
    const copy = last(h, A).meta['hive.msgid'];
    await h.feed('irc', ':dave!u@h PRIVMSG #hive :s/today/tomorrow/');
    expect(last(h, A)).toMatchObject({ lines: [`PRIVMSG ${A} :* dave deploys tomorrow`], meta: { 'hive.replaces': copy } });
    for (const gone of [':dave!u@h QUIT :bye', ':dave!u@h NICK :dave2', ':dave!u@h PART #hive', ':op!u@h KICK #hive dave :out']) {
      await h.feed('irc', ':dave!u@h PRIVMSG #hive :we ship it');
      await h.feed('irc', gone);
      // Someone else takes the nick: their s/// is a plain line.
      await h.feed('irc', ':dave!other@h PRIVMSG #hive :s/ship/burn/');
      expect(last(h, A).lines).toEqual([`PRIVMSG ${A} :<dave> s/ship/burn/`]);
      expect(last(h, A).meta['hive.replaces']).toBeUndefined();
    }
  });

  it('relays a multi-line room message to IRC as lines kept in one message (bounded), to a room as one message', async () => {
    const h = fakeHive({ groups: rooms, colours: false, no_highlight: false, max_lines: 3 });
    await h.feed('x', [`:alice!alice@localhost PRIVMSG ${A} :one`, `:alice!alice@localhost PRIVMSG ${A} :two`], { 'hive.msgid': 'm1' });
    expect(last(h, '#hive').lines).toEqual(['PRIVMSG #hive :<alice> one', 'PRIVMSG #hive :<alice> two']);
    expect(last(h, B).lines).toEqual([`PRIVMSG ${B} :<alice> one`, `PRIVMSG ${B} :two`]);
    // Hostile: 50 lines. IRC gets max_lines, the last saying how many more; the room gets them all.
    await h.feed('x', Array.from({ length: 50 }, (_, i) => `:alice!alice@localhost PRIVMSG ${A} :l${i}`), { 'hive.msgid': 'm2' });
    expect(last(h, '#hive').lines).toEqual(['PRIVMSG #hive :<alice> l0', 'PRIVMSG #hive :<alice> l1', 'PRIVMSG #hive :<alice> (… 48 more lines)']);
    expect(h.node.counters.lines_cut).toBe(48);
    expect(last(h, B).lines).toHaveLength(50);
    // Hostile: one 16 KB line would be ~40 IRC lines once the mouth splits it: cut to max_lines' worth.
    await h.feed('x', `:alice!alice@localhost PRIVMSG ${A} :${'z'.repeat(16_000)}`, { 'hive.msgid': 'm3' });
    const cut = last(h, '#hive').lines;
    expect(cut).toHaveLength(2);
    expect(cut[0]!.length).toBeLessThan(3 * 400);
    expect(cut[1]).toMatch(/^PRIVMSG #hive :<alice> \(… \d+ more bytes\)$/);
    expect(h.node.counters.lines_cut).toBe(49);
    // A multi-line correction on IRC: marked on its first line, bounded the same way.
    await h.feed('x', [`:alice!alice@localhost PRIVMSG ${A} :uno`, `:alice!alice@localhost PRIVMSG ${A} :dos`], { 'hive.msgid': 'm1x', 'hive.replaces': 'm1' });
    expect(last(h, '#hive').lines).toEqual(['PRIVMSG #hive :<alice> * correction: uno', 'PRIVMSG #hive :<alice> dos']);
  });

  it('gathers a multi-line room message that the mouth hands on one line at a time (one hive.msgid) into one relay', async () => {
    const h = fakeHive({ groups: rooms, colours: false, no_highlight: false });
    const line = (t: string, id = 'm1', nick = 'alice') => h.feed('x', `:${nick}!${nick}@localhost PRIVMSG ${A} :${t}`, { 'hive.msgid': id });
    // As the mouth does: one right after the other, nobody waiting in between.
    await Promise.all([line('\x01ACTION waves'), line('and says'), line('hello')]);
    expect(to(h, '#hive').map((s) => s.lines)).toEqual([['PRIVMSG #hive :* alice waves', 'PRIVMSG #hive :* alice and says', 'PRIVMSG #hive :* alice hello']]);
    expect(to(h, B).map((s) => s.lines)).toEqual([[`PRIVMSG ${B} :* alice waves`, `PRIVMSG ${B} :and says`, `PRIVMSG ${B} :hello`]]);
    // Lines that keep coming (each within the idle time of the one before) stay one message, even
    // past the idle time in all; a pause longer than it ends the message.
    h.sent.length = 0;
    const slow: Promise<void>[] = [];
    for (let i = 0; i < 4; i++) {
      slow.push(line(`slow ${i}`, 'm9'));
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 200));
    slow.push(line('late', 'm9'));
    await Promise.all(slow);
    // The part after the pause is a late part of the same message: the copy in B is corrected to
    // the whole text (not a second message with the same id), IRC gets the extra line.
    const inB = to(h, B);
    expect(inB.map((s) => s.lines.length)).toEqual([4, 5]);
    expect(inB[1]!.meta['hive.replaces']).toBe(inB[0]!.meta['hive.msgid']);
    expect(inB[1]!.lines.at(-1)).toBe(`PRIVMSG ${B} :late`);
    expect(to(h, '#hive').map((s) => s.lines)).toEqual([['slow 0', 'slow 1', 'slow 2', 'slow 3'].map((t) => `PRIVMSG #hive :<alice> ${t}`), ['PRIVMSG #hive :<alice> late']]);
    // IRC's max_lines holds across late parts: with 3 lines sent of max_lines 3, a late part goes
    // to the room only, and is counted as cut.
    const m = fakeHive({ groups: rooms, colours: false, no_highlight: false, max_lines: 3 });
    await m.feed('x', [`:alice!alice@localhost PRIVMSG ${A} :a`, `:alice!alice@localhost PRIVMSG ${A} :b`, `:alice!alice@localhost PRIVMSG ${A} :c`], { 'hive.msgid': 'k1' });
    await m.feed('x', `:alice!alice@localhost PRIVMSG ${A} :d`, { 'hive.msgid': 'k1' });
    expect(to(m, '#hive')).toHaveLength(1);
    expect(last(m, B).lines).toHaveLength(4);
    expect(m.node.counters.lines_cut).toBe(1);
    // A correction of it afterwards corrects the one copy, with nothing stale left.
    await h.feed('x', `:alice!alice@localhost PRIVMSG ${A} :all fixed`, { 'hive.msgid': 'm9x', 'hive.replaces': 'm9' });
    expect(last(h, B).meta['hive.replaces']).toBe(inB[0]!.meta['hive.msgid']);
    // Another message in between ends the gathering: each is relayed on its own, in order.
    h.sent.length = 0;
    await Promise.all([line('one', 'm2'), line('two', 'm3', 'bob'), line('three', 'm2')]);
    expect(to(h, '#hive').map((s) => s.lines)).toEqual([['PRIVMSG #hive :<alice> one'], ['PRIVMSG #hive :<bob> two'], ['PRIVMSG #hive :<alice> three']]);
  });

  it('relays a room\'s joins and parts where enabled: plain in the other room (an id of its own), coloured on IRC', async () => {
    const h = fakeHive({ groups: rooms, events: { joins: true, parts: true } });
    await h.feed('x', `:bob!bob@localhost JOIN ${A}`);
    expect(last(h, '#hive').bytes[0]!.toString()).toMatch(/^PRIVMSG #hive :\* \x03\d\db\u200bob\x03 has joined$/);
    expect(last(h, B).bytes[0]!.toString()).toBe(`PRIVMSG ${B} :* b\u200bob has joined`);
    expect(last(h, B).meta['hive.msgid']).toMatch(/^bridge-/);
    await h.feed('x', `:bob!bob@localhost PART ${A} :gone`);
    expect(last(h, B).lines).toEqual([`PRIVMSG ${B} :* bob has left (gone)`]);
  });

  it('an attachment whose address is not in the text goes on as a line of its own', async () => {
    const h = fakeHive({ groups: rooms, colours: false, no_highlight: false });
    await h.feed('x', `:alice!alice@localhost PRIVMSG ${A} :look at this`, { 'hive.msgid': 'm1', 'hive.links': ['https://example.org/cat.jpg'] });
    expect(last(h, '#hive').lines).toEqual(['PRIVMSG #hive :<alice> look at this', 'PRIVMSG #hive :<alice> https://example.org/cat.jpg']);
    expect(last(h, B).lines).toEqual([`PRIVMSG ${B} :<alice> look at this`, `PRIVMSG ${B} :https://example.org/cat.jpg`]);
    // Already in the text (as most clients send it): not twice. Hostile values are left out.
    await h.feed('x', `:alice!alice@localhost PRIVMSG ${A} :https://example.org/dog.jpg`, { 'hive.msgid': 'm2', 'hive.links': ['https://example.org/dog.jpg', 'bad url', 'x'.repeat(5000)] });
    expect(last(h, '#hive').lines).toEqual(['PRIVMSG #hive :<alice> https://example.org/dog.jpg']);
  });

  it('does not relay a room\'s history replayed on join, but can quote it when someone replies to it', async () => {
    const h = fakeHive({ groups: rooms, colours: false, no_highlight: false });
    await h.feed('x', `:old!old@localhost PRIVMSG ${A} :yesterday's news`, { 'hive.msgid': 'h1', 'hive.history': true });
    expect(h.sent).toEqual([]);
    await h.feed('x', `:bob!bob@localhost PRIVMSG ${A} :still true`, { 'hive.msgid': 'n1', 'hive.reply_msgid': 'h1' });
    expect(last(h, '#hive').lines).toEqual(['PRIVMSG #hive :<bob> ↪ old: "yesterday\'s news" — still true']);
    // No copy of it in B: the quote there too.
    expect(last(h, B).lines).toEqual([`PRIVMSG ${B} :<bob> ↪ old: "yesterday's news" — still true`]);
  });

  it('relays what was said while the bot was out of a room (history newer than the last live line, not seen), bounded per rejoin', async () => {
    const h = fakeHive({ groups: rooms, colours: false, no_highlight: false });
    await h.feed('x', `:alice!alice@localhost PRIVMSG ${A} :before the break`, { 'hive.msgid': 's1', 'hive.time': 1400 });
    h.sent.length = 0;
    // The rejoin replays history: older lines, and the one seen live, are not relayed again.
    await h.feed('x', `:old!old@localhost PRIVMSG ${A} :ancient`, { 'hive.msgid': 's0', 'hive.time': 500, 'hive.history': true });
    // The seen line again, under the room's id and stamped in whole seconds: recognised by its text.
    await h.feed('x', `:alice!alice@localhost PRIVMSG ${A} :before the break`, { 'hive.msgid': 'room-s1', 'hive.time': 1000, 'hive.history': true });
    await h.feed('x', `:alice!alice@localhost PRIVMSG ${A} :before the break`, { 'hive.msgid': 's1', 'hive.time': 1000, 'hive.history': true });
    expect(h.sent).toEqual([]);
    // Said in the same second (the stamp cut to 1000), after the bot left: relayed.
    await h.feed('x', `:alice!alice@localhost PRIVMSG ${A} :said while you were away`, { 'hive.msgid': 's2', 'hive.time': 1000, 'hive.history': true });
    expect(last(h, '#hive').lines).toEqual(['PRIVMSG #hive :<alice> said while you were away']);
    expect(last(h, B).lines).toEqual([`PRIVMSG ${B} :<alice> said while you were away`]);
    // Hostile: a flood of missed lines: at most 20 relayed, the rest remembered and counted.
    for (let i = 0; i < 30; i++) await h.feed('x', `:bob!bob@localhost PRIVMSG ${A} :missed ${i}`, { 'hive.msgid': `f${i}`, 'hive.time': 3000 + i, 'hive.history': true });
    expect(to(h, B)).toHaveLength(20);
    expect(h.node.counters.history_relayed).toBe(20);
    expect(h.node.counters.history_not_relayed).toBe(11);
    // A live line opens the next rejoin's allowance.
    await h.feed('x', `:bob!bob@localhost PRIVMSG ${A} :back`, { 'hive.msgid': 'l1', 'hive.time': 5000 });
    await h.feed('x', `:bob!bob@localhost PRIVMSG ${A} :missed again`, { 'hive.msgid': 'f99', 'hive.time': 6000, 'hive.history': true });
    expect(last(h, B).lines).toEqual([`PRIVMSG ${B} :<bob> missed again`]);
  });

  it('an IRC channel named like a room (#a@b) on a network listed in irc_networks is IRC: coloured, bounded, no ids', async () => {
    const h = fakeHive({ groups: { g: [`x/${A}`, 'irc/#dev@work'] }, irc_networks: ['irc'], max_lines: 2 });
    await h.feed('x', [`:alice!alice@localhost PRIVMSG ${A} :one`, `:alice!alice@localhost PRIVMSG ${A} :two`, `:alice!alice@localhost PRIVMSG ${A} :three`], { 'hive.msgid': 'm1' });
    const out = last(h, '#dev@work');
    expect(out.meta['hive.msgid']).toBeUndefined();
    expect(out.bytes[0]!.toString()).toMatch(/^PRIVMSG #dev@work :<\x03\d\da\u200blice\x03> one$/);
    expect(out.lines).toHaveLength(2);
    // Without it, the shape decides (a room): ids, no colour, the whole message.
    const r = fakeHive({ groups: { g: [`x/${A}`, 'irc/#dev@work'] }, max_lines: 2 });
    await r.feed('x', [`:alice!alice@localhost PRIVMSG ${A} :one`, `:alice!alice@localhost PRIVMSG ${A} :two`, `:alice!alice@localhost PRIVMSG ${A} :three`], { 'hive.msgid': 'm1' });
    expect(last(r, '#dev@work').meta['hive.msgid']).toMatch(/^bridge-/);
    expect(last(r, '#dev@work').lines).toHaveLength(3);
  });

  it('hostile: a huge correction and a huge quoted line stay bounded on IRC', async () => {
    const h = fakeHive({ groups: rooms, colours: false, no_highlight: false });
    const huge = 'w '.repeat(20_000);
    await h.feed('x', `:mallory!m@localhost PRIVMSG ${A} :${huge}`, { 'hive.msgid': 'big' });
    await h.feed('x', `:bob!bob@localhost PRIVMSG ${A} :tl;dr`, { 'hive.msgid': 'r', 'hive.reply_msgid': 'big' });
    expect(last(h, '#hive').lines[0]!.length).toBeLessThan(120);
    await h.feed('x', `:mallory!m@localhost PRIVMSG ${A} :${huge}x`, { 'hive.msgid': 'big2', 'hive.replaces': 'big' });
    // The text was too long to keep whole: no s/// guessed from a cut text, the full correction.
    expect(last(h, '#hive').lines[0]!.startsWith('PRIVMSG #hive :<mallory> * correction: w w')).toBe(true);
  });
});
