// The XmppNetwork on its own (no hive: a sink that keeps what it is given) against real Prosodys:
// rooms changed live by setChannels (hive reload) without reconnecting, and TLS: STARTTLS and
// direct TLS with a test CA given by ca_file, a server that offers no TLS refused when TLS is
// required, a CA that is not trusted refused, and tls_verify: false kept to the network's own
// host and port.
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { startProsody, type Prosody } from '../helpers/prosody.js';
import { connectXmpp, type XmppTestClient } from '../helpers/xmpp-client.js';
import { waitFor } from '../helpers/wait.js';
import { XmppNetwork } from '../../mouth/xmpp-network.js';
import { xmppNetworkSchema } from '../../mouth/network-config.js';
import type { MouthEvent, NetworkSink } from '../../mouth/network.js';
import type { Meta } from '../../protocol/metadata.js';
import { BOT, botInRoom } from './xmpp-util.js';

let plain: Prosody;
let secure: Prosody;
const clients: XmppTestClient[] = [];
const networks: XmppNetwork[] = [];

beforeAll(async () => {
  [plain, secure] = await Promise.all([startProsody(), startProsody({ tls: true })]);
  for (const p of [plain, secure]) {
    await p.register(BOT.user, BOT.password);
    await p.register('alice', 'pw');
  }
});
afterAll(async () => { await Promise.all([plain?.stop(), secure?.stop()]); });
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const n of networks.splice(0)) await n.stop();
});

interface Seen { lines: string[]; events: { event: MouthEvent; meta: Meta }[] }

function network(config: Record<string, unknown>): { net: XmppNetwork; seen: Seen } {
  const seen: Seen = { lines: [], events: [] };
  let n = 0;
  const sink: NetworkSink = {
    line: (_network, bytes) => { seen.lines.push(bytes.toString('utf8')); return `id${++n}`; },
    event: (_network, event, meta) => { seen.events.push({ event, meta }); },
  };
  const parsed = xmppNetworkSchema.parse({ type: 'xmpp', jid: `${BOT.user}@localhost`, password: BOT.password, reconnect: { min_delay: 100, max_delay: 500 }, ...config });
  const net = new XmppNetwork({ name: 'x', config: parsed, sink, log: pino({ level: process.env.XLOG ?? 'silent' }) });
  networks.push(net);
  return { net, seen };
}

describe('XmppNetwork', () => {
  it('joins and leaves rooms as setChannels lists them, without reconnecting', async () => {
    const alice = await connectXmpp(plain, 'alice', 'pw');
    clients.push(alice);
    const [r1, r2, r3] = ['live1', 'live2', 'live3'].map((r) => `${r}@conference.localhost`) as [string, string, string];
    for (const r of [r1, r2, r3]) await alice.join(r, 'alice');
    const { net, seen } = network({ host: plain.host, port: plain.port, tls: 'none', rooms: [r1, r2] });
    await net.start();
    await botInRoom(alice, r1);
    await botInRoom(alice, r2);
    const since = alice.mark();
    // A plugin's JOIN is not the config's: setChannels leaves it alone.
    net.submit({ via: 'p', origin: 'p' }, [Buffer.from(`JOIN #${r3}`)]);
    await botInRoom(alice, r3, 'hivebot', { since });
    await net.setChannels([{ name: r1 }, { name: 'live4@conference.localhost', key: 'pw' }]);
    await alice.waitFor((s) => s.is('presence') && s.attrs.from === `${r2}/hivebot` && s.attrs.type === 'unavailable', { since, what: 'the bot leaving live2' });
    await waitFor(() => seen.lines.includes(':hivebot!hivebot@localhost JOIN #live4@conference.localhost'), { what: 'the join of live4' });
    expect(seen.lines).toContain(`:hivebot!hivebot@localhost PART #${r2}`);
    expect(alice.stanzas.slice(since).some((s) => s.is('presence') && s.attrs.from === `${r3}/hivebot` && s.attrs.type === 'unavailable')).toBe(false);
    expect(alice.stanzas.slice(since).some((s) => s.is('presence') && s.attrs.from === `${r1}/hivebot`)).toBe(false);
    expect(net.counters.connects).toBe(1);
    expect(seen.events.map((e) => e.event)).toEqual(['connecting', 'registered']);
  });

  it('sends a message under the hive.msgid given, as a correction, and as a reply to the hive.reply_msgid given', async () => {
    const alice = await connectXmpp(plain, 'alice', 'pw');
    clients.push(alice);
    const room = 'meta1@conference.localhost';
    await alice.join(room, 'alice');
    const { net } = network({ host: plain.host, port: plain.port, tls: 'none', rooms: [room] });
    await net.start();
    await botInRoom(alice, room);
    const since = alice.mark();
    const v = (value: string) => ({ signature: 's', value });
    const sender = { via: 'p', origin: 'p' };
    net.submit(sender, [Buffer.from(`PRIVMSG #${room} :first`)], undefined, { 'hive.msgid': v('m-1') });
    net.submit(sender, [Buffer.from(`PRIVMSG #${room} :first!`)], undefined, { 'hive.replaces': v('m-1'), 'hive.reply_msgid': v('elsewhere-9') });
    const bot = `${room}/hivebot`;
    const first = await alice.waitFor((s) => s.is('message') && s.attrs.from === bot && s.getChildText('body') === 'first', { since });
    expect(first.attrs.id).toBe('m-1');
    expect(first.getChild('origin-id', 'urn:xmpp:sid:0')!.attrs.id).toBe('m-1');
    const fix = await alice.waitFor((s) => s.is('message') && s.attrs.from === bot && s.getChildText('body') === 'first!', { since });
    expect(fix.getChild('replace', 'urn:xmpp:message-correct:0')!.attrs.id).toBe('m-1');
    expect(fix.getChild('reply', 'urn:xmpp:reply:0')!.attrs).toMatchObject({ id: 'elsewhere-9' });
    expect(fix.attrs.id).not.toBe('m-1');
  });

  it('logs in over STARTTLS and over direct TLS trusting ca_file', async () => {
    for (const [tls, port] of [['starttls', secure.port], ['direct', secure.tlsPort!]] as const) {
      const { net, seen } = network({ host: '127.0.0.1', port, tls, ca_file: secure.caFile });
      await net.start();
      await waitFor(() => net.status().online, { what: `online over ${tls}`, timeout: 10_000 });
      expect(net.status().jid).toBe(`${BOT.user}@localhost/hive`);
      expect(seen.events.map((e) => e.event)).toEqual(['connecting', 'registered']);
      await net.stop();
    }
  });

  it("keeps an XMPP network's tls_verify: false to its own host and port, off a caller's own options, and until it stops", async () => {
    // A TLS connection the way another network (an IRC one) or anything else in the mouth makes it.
    const verified = (port: number, opts: tls.ConnectionOptions = {}) => new Promise<string>((resolve) => {
      const sock = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ...opts }, () => { sock.destroy(); resolve('verified'); });
      sock.on('error', (err) => { sock.destroy(); resolve(err.message); });
    });
    const { net: loose } = network({ host: '127.0.0.1', port: secure.port, tls: 'starttls', tls_verify: false });
    await loose.start();
    await waitFor(() => loose.status().online, { what: 'online without verifying' });
    // Same host, another port: Node's defaults (the test CA is not trusted).
    expect(await verified(secure.tlsPort!)).toMatch(/certificate/i);
    const { net: direct } = network({ host: '127.0.0.1', port: secure.tlsPort!, tls: 'direct', tls_verify: false });
    await direct.start();
    await waitFor(() => direct.status().online, { what: 'online over direct TLS without verifying' });
    // Same host and port, but the caller says rejectUnauthorized itself: kept.
    expect(await verified(secure.tlsPort!, { rejectUnauthorized: true })).toMatch(/certificate/i);
    expect(await verified(secure.tlsPort!)).toBe('verified');
    await direct.stop();
    expect(await verified(secure.tlsPort!)).toMatch(/certificate/i);
  });

  it('refuses a server without TLS when TLS is required, and a certificate it cannot verify', async () => {
    const { net: noTls } = network({ host: plain.host, port: plain.port, tls: 'starttls' });
    await noTls.start();
    await waitFor(() => noTls.status().lastDisconnect !== '', { what: 'a refusal' });
    expect(noTls.status().lastDisconnect).toMatch(/TLS required \(tls: starttls\) but the server offered no STARTTLS/);
    expect(noTls.status().online).toBe(false);
    const { net: untrusted } = network({ host: '127.0.0.1', port: secure.tlsPort!, tls: 'direct' });
    await untrusted.start();
    await waitFor(() => untrusted.status().lastDisconnect !== '', { what: 'a refusal' });
    expect(untrusted.status().lastDisconnect).toMatch(/certificate/i);
    expect(untrusted.status().online).toBe(false);
  });
});
