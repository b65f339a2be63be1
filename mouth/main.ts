/**
 * The mouth process: the root node. It owns the networks, broadcasts every line a server sends
 * (and its own connection events) down the tree as a HiveMessage, and sends what comes up to the
 * network the message names, through that network's outbound checks, queue and flood control.
 *
 * Configuration comes in HIVE_CONFIG as JSON: { "networks": { NAME: network, … } } with networks
 * as in the hive config (docs/config.md). Exit codes: 0 done (also after the terminal's input
 * ended), 1 fatal error, 2 bad environment or configuration.
 */
import { createLogger } from '../protocol/logger.js';
import { HiveError } from '../protocol/errors.js';
import { createLogLimiter } from '../protocol/log-limit.js';
import { newMessageId } from '../protocol/hive-message.js';
import type { Meta } from '../protocol/metadata.js';
import { readNodeEnv, type NodeEnv } from '../protocol/sdk/environment.js';
import { collectWhenIdle } from '../protocol/sdk/idle-gc.js';
import { HiveNode } from '../protocol/sdk/node.js';
import { callWithDeadline } from '../protocol/sdk/bus.js';
import { SUPERVISOR_INTERFACE, SUPERVISOR_PATH, supervisorBusName } from '../protocol/names.js';
import { EXIT, installShutdown } from '../protocol/sdk/run.js';
import { AnsweredSet, SentJournal } from './answered-set.js';
import { IrcNetwork } from './irc-network.js';
import type { MouthEvent, Network, NetworkSink } from './network.js';
import { OutboundRefused } from './outbound-error.js';
import { Speakers } from './outbound.js';
import { TerminalNetwork } from './terminal-network.js';
import { ScriptNetwork } from './script-network.js';
import type { XmppNetwork } from './xmpp-network.js';
import { serveLiveConfig } from './live-config.js';
import type { NetworkConfig } from './network-config.js';

/**
 * The XMPP network's module (and @xmpp/client, about 6 MB PSS) only in a mouth that has an XMPP
 * network: loaded at start for the config's, or before `hive reload` adds one (prepare below).
 */
let xmpp: typeof import('./xmpp-network.js') | undefined;
async function loadNetworkModules(nets: Record<string, { type: string }>): Promise<void> {
  if (!xmpp && Object.values(nets).some((n) => n.type === 'xmpp')) xmpp = await import('./xmpp-network.js');
}
const isXmpp = (n: Network | undefined): n is XmppNetwork => xmpp !== undefined && n instanceof xmpp.XmppNetwork;

interface MouthConfig { networks: Record<string, NetworkConfig> }

/**
 * The config as the mouth runs it. Started by the supervisor (HIVE_CONFIG_CHECKED=1), it is the output of
 * the supervisor's own check with these schemas (tree-supervisor/config-checker.ts), and parsing
 * that again gives the same (test/mouth/network-config-idempotent.test.ts): taken as it is, so the
 * mouth never loads zod (about 6 MB PSS, issue 17). Started by hand (tests), it checks it itself.
 */
async function readSetup(): Promise<{ env: NodeEnv; config: MouthConfig }> {
  try {
    const env = readNodeEnv();
    if (env.configChecked) {
      const { networks } = env.config;
      if (!networks || typeof networks !== 'object' || Array.isArray(networks)) throw new Error('networks: expected an object of networks, as the supervisor checked it');
      // Not a check of the config (the supervisor's was): what a hand-set HIVE_CONFIG_CHECKED=1 would miss worst.
      for (const [name, n] of Object.entries(networks)) {
        if (!n || typeof n !== 'object' || !['irc', 'xmpp', 'terminal', 'script'].includes((n as { type?: unknown }).type as string)) throw new Error(`networks.${name}: expected a network as the supervisor checked it (HIVE_CONFIG_CHECKED=1 is for nodes the supervisor starts)`);
      }
      return { env, config: env.config as unknown as MouthConfig };
    }
    const [{ z }, { networkSchema }] = await Promise.all([import('zod'), import('./network-config.js')]);
    return { env, config: z.object({ networks: z.record(z.string(), networkSchema) }).loose().parse(env.config) };
  } catch (err) {
    process.stderr.write(`mouth: bad environment or configuration: ${(err as Error).message}\n`);
    process.exit(EXIT.badEnvironment);
  }
}
const { env, config } = await readSetup();

const log = createLogger({ node: env.node, kind: 'mouth' });
const node = new HiveNode({ name: env.node, kind: 'mouth', instance: env.instance, token: env.token, log, busAddress: env.busAddress, vouch: env.vouch, commandPrefix: env.commandPrefix });
const networks = new Map<string, Network>();
const answered = new AnsweredSet();
// What this mouth sent, for its next run: a Send pending when it is killed comes again (answered-set.ts).
const journal = env.stateDir ? new SentJournal(env.stateDir, (err, what) => log.warn({ err, what }, 'journal of sent ids unusable; a resend after a restart may go out twice')) : undefined;
if (journal) answered.restore(journal.open());
const refusalLog = createLogLimiter({ max: 5 });
// Sequence numbers grow across mouth restarts (they start at the clock), so a child never takes
// a new message for one it has already seen.
const seqs = new Map<string, number>();

function nextSeq(network: string): number {
  const n = (seqs.get(network) ?? Date.now() * 1000) + 1;
  seqs.set(network, n);
  return n;
}

// Whose line each recent user's line (PRIVMSG, NOTICE, TAGMSG) was, per network: a reply's
// hive.reply_to names the IRC user it answers, and the outbound queue gives each user a share (fair-queue.ts).
const speakers = new Map<string, Speakers>();

// Lines each network's server (or users) sent, `<network>.lines_in` in the Counters.
const linesIn = new Map<string, number>();

const sink: NetworkSink = {
  line(network, bytes, meta, speaker) {
    linesIn.set(network, (linesIn.get(network) ?? 0) + 1);
    const id = newMessageId(node.name);
    if (speaker !== undefined) {
      let s = speakers.get(network);
      if (s === undefined) speakers.set(network, (s = new Speakers()));
      s.remember(id, speaker);
    }
    meta['hive.id'] = id;
    meta['hive.network'] = network;
    meta['hive.seq'] = nextSeq(network);
    meta['hive.time'] ??= Date.now();
    meta['hive.event'] = 'line';
    node.emit({ lines: [bytes], meta });
    log.debug({ network, id }, 'line in');
    return id;
  },
  event(network, event: MouthEvent, meta: Meta) {
    meta['hive.network'] = network;
    meta['hive.seq'] = nextSeq(network);
    meta['hive.time'] = Date.now();
    meta['hive.event'] = event;
    node.emit({ lines: [], meta });
  },
};

node.onUp = async (wire, child) => {
  const meta = wire[1];
  // `child` is the verified direct child (its bus connection proves it); hive.origin is only what
  // that child claims about its subtree. Fairness and dedup key on both, the child first, so a
  // claim can only split the claimant's own share; logs name both.
  const via = child.name;
  const name = meta['hive.network']?.value as string | undefined;
  if (!name) throw new HiveError('NetworkUnknown', 'the message has no hive.network; replies carry the network of the message they answer');
  const network = networks.get(name);
  if (!network) throw new HiveError('NetworkUnknown', `no network '${name}'; this mouth has: ${[...networks.keys()].join(', ')}`);
  const origin = (meta['hive.origin']?.value as string | undefined) ?? via;
  const replyTo = meta['hive.reply_to']?.value as string | undefined;
  const sent = { via, conn: child.unique, origin, id: meta['hive.id']?.value as string | undefined, replyTo, replayed: meta['hive.replayed']?.value === true, network: name };
  const duplicate = answered.duplicate(sent, (conn) => node.children.has(conn));
  if (duplicate) {
    node.counters.duplicates = (node.counters.duplicates ?? 0) + 1;
    const why = duplicate === 'answer' ? 'second reply to a replayed message not sent'
      : duplicate === 'resent' ? 'message sent again after its parent died: already sent, not sent twice'
        : 'message sent again after the mouth restarted: the previous mouth had begun to send it, not sent again (lost if it was killed before writing it)';
    log.warn({ via, origin, id: sent.id, replyTo }, why);
    return;
  }
  // Noted for the next mouth before the network writes it, not after: the write wakes the server's
  // side, and a mouth killed right then was seen not to run again for 10 ms, its Send unanswered.
  // (Killed between the two, the next mouth holds the resend back: logged, answer lost.)
  if (sent.id !== undefined) journal?.record(origin, sent.id, name, child.unique);
  const user = replyTo ? speakers.get(name)?.get(replyTo) : undefined;
  try {
    const sender = { via, origin, ctcp: meta['hive.ctcp']?.value === true, user };
    // The scripted network hands the metadata back to its client with each line (tests read it).
    // So does the XMPP network: hive.msgid, hive.replaces and hive.reply_msgid become stanza parts.
    if (network instanceof ScriptNetwork || isXmpp(network)) network.submit(sender, wire[0], replyTo, meta);
    else network.submit(sender, wire[0], replyTo);
    // Remembered once the network took it: a refused message was not sent and may come again.
    answered.remember(sent);
  } catch (err) {
    if (err instanceof OutboundRefused) {
      // Counted by the network's outbound (Details); logged at a limited rate per child and code,
      // since an IRC user can make a plugin's replies be refused (a CTCP in `!echo`, a flood of
      // commands past their UserShare).
      const suppressed = refusalLog.take(`${via}\0${err.code}`);
      if (suppressed !== undefined) log.error({ err, network: name, via, origin, user, code: err.code, suppressed }, 'outbound message refused');
      throw err.toHiveError();
    }
    throw err;
  }
};

async function stopNetworks(): Promise<void> {
  await Promise.all([...networks.values()].map((n) => n.stop().catch((err) => log.warn({ err, network: n.name }, 'network stop failed'))));
}

let finishing = false;
/**
 * The terminal's input ended and everything was answered. Under a supervisor, ask it to shut the
 * hive down in order (leaves first, the mouth last, which ends this process with SIGTERM);
 * without one, stop here.
 */
async function finish(): Promise<void> {
  if (finishing) return;
  finishing = true;
  try {
    await callWithDeadline(node.bus, { destination: supervisorBusName(env.instance), path: SUPERVISOR_PATH, interface: SUPERVISOR_INTERFACE, member: 'Shutdown' }, 2000);
    log.info('asked the supervisor to shut the hive down');
    return;
  } catch {
    log.info('no supervisor; stopping');
  }
  await stopNetworks();
  await node.stop();
  process.exit(EXIT.ok);
}

/** Makes a network from its config (at start-up, and when `hive reload` adds or reconnects one) and shows its counters. */
function makeNetwork(name: string, net: NetworkConfig): Network {
  const netLog = log.child({ network: name });
  let n: Network;
  if (net.type === 'irc') n = new IrcNetwork({ name, config: net, sink, log: netLog });
  else if (net.type === 'xmpp') n = new xmpp!.XmppNetwork({ name, config: net, sink, log: netLog });
  else if (net.type === 'script') n = new ScriptNetwork({ name, config: net, sink, log: netLog });
  else if (net.type === 'terminal') n = new TerminalNetwork({ name, config: net, sink, log: netLog, onInputEnd: () => void finish() });
  else throw new Error(`network ${name}: no network of type ${(net as { type: string }).type}`);
  exposeCounters(name, n);
  return n;
}

/**
 * A network's figures in the mouth's Counters, read when asked through `networks` (a network
 * reconnected by `hive reload` is a new object) and deletable (forgetNetwork):
 * IRC: `<network>.malformed`, `.connects`, `.hostile_drops`, `.identified` (1 when logged in to
 * services); XMPP: the same (`.identified` 1 while logged in) and its own `.too_long` (inbound
 * messages dropped for their size), `.resent` (sent again after the server lost the session),
 * `.errors` (error stanzas for what the bot sent), `.foreign_corrections` (a correction of someone
 * else's message, passed on as a plain line), `.untrusted_accounts` (a JID claimed by a room service
 * not trusted for it), `.forged_times` (a delay stamp not from the room's history or our server),
 * `.unsafe_lines` (a line dropped for CR, LF, NUL or a broken prefix); scripted: `.requests`, `.bad_requests`,
 * `.clients`, `.clients_refused`, `.clients_dropped`; every network's `.lines_in` (lines it took in) and outbound figures
 * (mouth/outbound.ts counters()): `.queued`, `.sent`, `.waiting`, `.refused` and
 * `.refused_<Code>`, `.ctcp_answered`, `.ctcp_dropped`.
 */
function exposeCounters(name: string, n: Network): void {
  const counter = (key: string, get: (n: Network) => number) => Object.defineProperty(node.counters, `${name}.${key}`, {
    enumerable: true, configurable: true, get: () => get(networks.get(name) ?? n),
  });
  if (n instanceof IrcNetwork) {
    counter('malformed', (x) => (x as IrcNetwork).counters.malformed);
    counter('connects', (x) => (x as IrcNetwork).counters.connects);
    counter('hostile_drops', (x) => (x as IrcNetwork).counters.hostileDrops);
    counter('identified', (x) => ((x as IrcNetwork).status().account ? 1 : 0));
  }
  if (isXmpp(n)) {
    counter('malformed', (x) => (x as XmppNetwork).counters.malformed);
    counter('connects', (x) => (x as XmppNetwork).counters.connects);
    counter('hostile_drops', (x) => (x as XmppNetwork).counters.hostileDrops);
    counter('identified', (x) => ((x as XmppNetwork).status().online ? 1 : 0));
    counter('too_long', (x) => (x as XmppNetwork).counters.tooLong);
    counter('resent', (x) => (x as XmppNetwork).counters.resent);
    counter('errors', (x) => (x as XmppNetwork).counters.errors);
    counter('foreign_corrections', (x) => (x as XmppNetwork).counters.foreignCorrections);
    counter('untrusted_accounts', (x) => (x as XmppNetwork).counters.untrustedAccounts);
    counter('forged_times', (x) => (x as XmppNetwork).counters.forgedTimes);
    counter('unsafe_lines', (x) => (x as XmppNetwork).counters.unsafeLines);
  }
  if (n instanceof ScriptNetwork) {
    for (const key of Object.keys(n.counters) as (keyof ScriptNetwork['counters'])[]) counter(key, (x) => (x as ScriptNetwork).counters[key]);
  }
  for (const key of Object.keys(n.outboundCounters())) counter(key, (x) => x.outboundCounters()[key] ?? 0);
  counter('lines_in', () => linesIn.get(name) ?? 0);
}

/** A network removed by `hive reload`: its counters go too. */
function forgetNetwork(name: string): void {
  for (const key of Object.keys(node.counters)) if (key.startsWith(`${name}.`)) delete node.counters[key];
  linesIn.delete(name);
}

await loadNetworkModules(config.networks);
for (const [name, net] of Object.entries(config.networks)) networks.set(name, makeNetwork(name, net));

// Details `<network>.account`, `.state` and `.last_disconnect` of each IRC and XMPP network there is now.
node.details = () => {
  const d: Record<string, string> = {};
  for (const n of networks.values()) {
    if (n instanceof IrcNetwork) {
      const s = n.status();
      d[`${n.name}.state`] = s.registered ? 'registered' : s.connected ? 'connecting' : 'down';
      d[`${n.name}.account`] = s.account;
      d[`${n.name}.last_disconnect`] = s.lastDisconnect;
    } else if (isXmpp(n)) {
      const s = n.status();
      // The same words as IRC's (hive metrics and the web view read them).
    d[`${n.name}.state`] = s.online ? 'registered' : s.connected ? 'connecting' : 'down';
      d[`${n.name}.account`] = s.jid;
      d[`${n.name}.last_disconnect`] = s.lastDisconnect;
    }
  }
  return d;
};

installShutdown(node, stopNetworks);
await node.start();
for (const n of networks.values()) await n.start();
// `hive reload`: the supervisor changes the networks live (org.hive.Mouth1.Configure, mouth/live-config.ts).
serveLiveConfig({ bus: node.bus, instance: env.instance, log, networks, configs: config.networks, create: makeNetwork, prepare: loadNetworkModules, forget: forgetNetwork, counters: node.counters });
log.info({ networks: [...networks.keys()] }, 'mouth running');
// Give back what a burst grew the heap to once quiet (the mouth is the largest process after one);
// its young generation keeps node's default size, for throughput.
collectWhenIdle({ afterStart: true });
