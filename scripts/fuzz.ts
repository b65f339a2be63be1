/**
 * `npm run fuzz [-- --seconds N] [--seed N] [--json]`: random and mutated input against a running
 * hive, for a bounded time, from a printed seed. Two hostile sides at once:
 *   - a fake IRC server (test/helpers/fake-ircd.ts) that sends the mouth server lines built from a
 *     corpus of what the mouth and irc-framework handle, then mutated (parameters dropped, bytes
 *     flipped, NUL, invalid UTF-8, CR, \x01, huge tokens, broken tags, chunked writes);
 *   - D-Bus callers: a stranger calling Send with random bodies, and an attached child sending random
 *     HiveMessages (wrong metadata types, unknown keys, oversized values, CR/LF in lines).
 * Meanwhile a probe (`!echo probe-N` from the fake server) must keep being answered. It reports
 * the inputs tried, crashes (mouth pid changes, node restarts, fatal log lines, the supervisor
 * gone: must be 0), probes unanswered, and the mouth's `malformed` counters. Exit 0 when there
 * were no crashes and every probe was answered, 1 otherwise.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fetchTree, type TreeNodeInfo } from '../tree-supervisor/cli-client.js';
import type { RuntimeInfo } from '../tree-supervisor/runtime-file.js';
import { nodeCredential } from '../tree-supervisor/credentials.js';
import { HIVE_MESSAGE_SIGNATURE, NODE_INTERFACE, NODE_PATH, nodeBusName } from '../protocol/names.js';
import { Variant, callBus, callWithDeadline, connectBus, type MessageBus } from '../protocol/sdk/bus.js';
import { startFakeIrcd, type FakeIrcd } from '../test/helpers/fake-ircd.js';
import { startBenchHive, type BenchHive } from './bench/hive-process.js';
import { prng } from '../test/helpers/prng.js';

export interface FuzzOptions { seconds: number; seed: number; log?: (line: string) => void }

export interface FuzzReport {
  seed: number;
  seconds: number;
  inputs: { server_lines: number; server_bytes: number; dbus_calls: number };
  dbus_replies: Record<string, number>;
  crashes: number;
  crash_details: string[];
  /** lost: sent on a connection that was cut (oversized input) before the answer came. */
  probes: { sent: number; answered: number; lost: number };
  malformed: Record<string, number>;
  reconnects: number;
}

const CHANNEL = '#fuzz';
const NETWORK = 'fuzz';

/** What servers send (and what irc-framework and the mouth handle), with slots to fill. */
const CORPUS = [
  ':{n}!{u}@{h} PRIVMSG {c} :{t}', ':{n}!{u}@{h} PRIVMSG {bot} :{t}', ':{n}!{u}@{h} NOTICE {c} :{t}',
  ':{n}!{u}@{h} PRIVMSG {c} :!{cmd} {t}', ':{n}!{u}@{h} PRIVMSG {bot} :\x01VERSION\x01', ':{n}!{u}@{h} PRIVMSG {c} :\x01ACTION {t}\x01',
  ':{n}!{u}@{h} PRIVMSG {bot} :\x01PING {t}\x01', ':{n}!{u}@{h} JOIN {c}', ':{n}!{u}@{h} JOIN {c} acc :{t}', ':{n}!{u}@{h} PART {c} :{t}',
  ':{n}!{u}@{h} KICK {c} {bot} :{t}', ':{n}!{u}@{h} KICK {c} {n2} :{t}', ':{n}!{u}@{h} NICK {n2}', ':{n}!{u}@{h} QUIT :{t}',
  ':{n}!{u}@{h} MODE {c} +o {n2}', ':{n}!{u}@{h} MODE {bot} +i', ':{n}!{u}@{h} TOPIC {c} :{t}', ':{n}!{u}@{h} INVITE {bot} {c}',
  ':{n}!{u}@{h} ACCOUNT {n}', ':{n}!{u}@{h} AWAY :{t}', ':{n}!{u}@{h} CHGHOST {u} {h}', ':{n}!{u}@{h} SETNAME :{t}',
  ':{n}!{u}@{h} TAGMSG {c}', ':{n}!{u}@{h} WALLOPS :{t}',
  ':s 353 {bot} = {c} :@{n} +{n2} {bot}', ':s 366 {bot} {c} :End of /NAMES list.', ':s 332 {bot} {c} :{t}', ':s 333 {bot} {c} {n} 1700000000',
  ':s 311 {bot} {n} {u} {h} * :{t}', ':s 318 {bot} {n} :End', ':s 352 {bot} {c} {u} {h} s {n} H :0 {t}', ':s 354 {bot} 152 {c} {u} {h} {n} H {n} :{t}',
  ':s 315 {bot} {c} :End', ':s 367 {bot} {c} *!*@{h} {n} 1700000000', ':s 368 {bot} {c} :End', ':s 324 {bot} {c} +nt',
  ':s 329 {bot} {c} 1700000000', ':s 900 {bot} {n}!{u}@{h} {n} :You are now logged in', ':s 903 {bot} :SASL ok', ':s 904 {bot} :SASL failed',
  ':s 005 {bot} CHANTYPES=# PREFIX=(ov)@+ NICKLEN=30 :are supported', ':s 433 * {bot} :Nickname in use', ':s 432 * {n} :Erroneous',
  ':s 401 {bot} {n} :No such nick', ':s 474 {bot} {c} :Banned', ':s 471 {bot} {c} :Full', ':s 404 {bot} {c} :Cannot send',
  ':s 001 {bot} :Welcome', ':s 002 {bot} :Host', ':s 375 {bot} :- MOTD', ':s 372 {bot} :- {t}', ':s 376 {bot} :End',
  ':s CAP {bot} NEW :sasl', ':s CAP {bot} DEL :sasl', ':s CAP {bot} ACK :multi-prefix', ':s CAP {bot} LS :sasl multi-prefix',
  ':s BATCH +{b} netsplit a.b c.d', ':s BATCH -{b}', '@batch={b} :{n}!{u}@{h} QUIT :a.b c.d', '@batch={b} :{n}!{u}@{h} PRIVMSG {c} :{t}',
  '@time=2024-01-01T00:00:00.000Z;account={n} :{n}!{u}@{h} PRIVMSG {c} :{t}', '@msgid={b};+draft/reply={b} :{n}!{u}@{h} PRIVMSG {c} :{t}',
  'PING :{t}', ':s PONG s :{t}', ':s NOTICE * :*** {t}', ':s NOTICE {bot} :{t}', 'AUTHENTICATE +', ':s 710 {bot} {c} {n} :knock',
];
const CMDS = ['ping', 'echo', 'help', 'seen', 'note', 'whoami', 'echo \x01VERSION\x01', 'help ping'];

function pick<T>(r: () => number, xs: readonly T[]): T { return xs[Math.floor(r() * xs.length)]!; }

function randomBytes(r: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}

function word(r: () => number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-[]\\`^{}|';
  let s = '';
  const n = 1 + Math.floor(r() * 9);
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(r() * alphabet.length)];
  return s;
}

function fill(r: () => number, template: string, bot: string): string {
  return template.replace(/\{(\w+)\}/g, (_, k: string) => {
    switch (k) {
      case 'bot': return r() < 0.9 ? bot : word(r);
      case 'c': return r() < 0.8 ? CHANNEL : `#${word(r)}`;
      case 'cmd': return pick(r, CMDS);
      case 't': return Array.from({ length: 1 + Math.floor(r() * 6) }, () => word(r)).join(' ');
      default: return word(r);
    }
  });
}

/** One mutation of a line's bytes. */
function mutate(r: () => number, line: Buffer): Buffer {
  const tokens = line.toString('latin1').split(' ');
  switch (Math.floor(r() * 12)) {
    case 0: return Buffer.from(tokens.slice(0, Math.max(1, Math.floor(r() * tokens.length))).join(' '), 'latin1'); // parameters missing
    case 1: return line.subarray(0, Math.floor(r() * line.length)); // cut anywhere
    case 2: { const b = Buffer.from(line); if (b.length) b[Math.floor(r() * b.length)] = Math.floor(r() * 256); return b; }
    case 3: { const at = Math.floor(r() * (line.length + 1)); return Buffer.concat([line.subarray(0, at), Buffer.from([pick(r, [0x00, 0x01, 0x0d, 0xff, 0xc3, 0x80, 0x20])]), line.subarray(at)]); }
    case 4: { const at = Math.floor(r() * (line.length + 1)); return Buffer.concat([line.subarray(0, at), randomBytes(r, 1 + Math.floor(r() * 20)), line.subarray(at)]); }
    case 5: { tokens.splice(Math.floor(r() * tokens.length), 1); return Buffer.from(tokens.join(' '), 'latin1'); }
    case 6: { tokens[Math.floor(r() * tokens.length)] = 'x'.repeat(Math.floor(r() * 10_000)); return Buffer.from(tokens.join(' '), 'latin1'); }
    case 7: return Buffer.from(`@${pick(r, [';;;', '=', 'a=\\', `${word(r)}=${'\\s'.repeat(50)}`, 'time=garbage', 'batch='])} ${line.toString('latin1')}`, 'latin1');
    case 8: return Buffer.from(line.toString('latin1').replace(/^:\S*/, pick(r, [':', '::', ':!@', ':a!', ':@'])), 'latin1');
    case 9: return Buffer.from(tokens.join(pick(r, ['  ', ' :', ':'])), 'latin1');
    case 10: return Buffer.from(tokens.map((t) => (r() < 0.3 ? t.toLowerCase() : t)).join(' '), 'latin1');
    default: return line;
  }
}

function serverLine(r: () => number, bot: string, mutated: number): Buffer {
  let line: Buffer = Buffer.from(fill(r, pick(r, CORPUS), bot), 'latin1');
  const n = r() >= mutated ? 0 : 1 + Math.floor(r() * 3);
  for (let i = 0; i < n; i++) line = mutate(r, line);
  return line;
}

// ---- D-Bus bodies ---------------------------------------------------------------------

function randomVariant(r: () => number, depth = 0): InstanceType<typeof Variant> {
  const k = Math.floor(r() * (depth > 2 ? 6 : 9));
  switch (k) {
    case 0: return new Variant('s', word(r));
    case 1: return new Variant('x', BigInt(Math.floor((r() - 0.5) * 2 ** 52)));
    case 2: return new Variant('t', BigInt(Math.floor(r() * 2 ** 53)));
    case 3: return new Variant('b', r() < 0.5);
    case 4: return new Variant('ay', randomBytes(r, Math.floor(r() * (r() < 0.05 ? 40_000 : 64))));
    case 5: return new Variant('as', Array.from({ length: Math.floor(r() * (r() < 0.05 ? 5_000 : 8)) }, () => word(r)));
    case 6: return new Variant('d', r() * 1e9);
    case 7: return new Variant('a{sv}', Object.fromEntries(Array.from({ length: Math.floor(r() * 5) }, () => [word(r), randomVariant(r, depth + 1)])));
    default: return new Variant('v', randomVariant(r, depth + 1));
  }
}

const HIVE_KEYS = ['hive.id', 'hive.network', 'hive.time', 'hive.nick', 'hive.reply_to', 'hive.seq', 'hive.path', 'hive.origin', 'hive.tags', 'hive.account', 'hive.event', 'hive.replayed', 'hive.bogus'];

function randomWire(r: () => number): [Buffer[], Record<string, InstanceType<typeof Variant>>] {
  const lines: Buffer[] = [];
  const n = r() < 0.05 ? 200 : Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const base = Buffer.from(`PRIVMSG ${r() < 0.8 ? CHANNEL : word(r)} :${word(r)}`);
    lines.push(r() < 0.6 ? base : mutate(r, base));
  }
  const meta: Record<string, InstanceType<typeof Variant>> = {};
  if (r() < 0.85) meta['hive.network'] = r() < 0.9 ? new Variant('s', NETWORK) : randomVariant(r);
  const extra = r() < 0.03 ? 100 : Math.floor(r() * 5);
  for (let i = 0; i < extra; i++) {
    const key = r() < 0.5 ? pick(r, HIVE_KEYS) : `${word(r)}.${word(r)}`;
    meta[key] = randomVariant(r);
  }
  return [lines, meta];
}

// ---- the run --------------------------------------------------------------------------

/** The hive's runtime file: written once the supervisor has started the tree, which can be after the mouth registered. */
async function runtimeInfo(h: BenchHive): Promise<RuntimeInfo> {
  const file = join(h.dir, 'run', `${h.instance}.json`);
  for (const deadline = Date.now() + 30_000; ;) {
    try {
      return JSON.parse(await readFile(file, 'utf8')) as RuntimeInfo;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Every number in a node's counters whose name says malformed, by its name. */
function malformedOf(n: TreeNodeInfo | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(n?.counters ?? {})) if (/malformed/i.test(k)) out[k] = v;
  return out;
}

export async function runFuzz(o: FuzzOptions): Promise<FuzzReport> {
  const say = o.log ?? (() => undefined);
  const r = prng(o.seed);
  const fake: FakeIrcd = await startFakeIrcd();
  const hive = await startBenchHive({
    log_level: 'info',
    networks: {
      [NETWORK]: {
        type: 'irc', host: fake.host, port: fake.port, nick: 'fuzzbot', channels: [CHANNEL],
        flood: { burst: 1000, rate: 1000 }, reconnect: { min_delay: 50, max_delay: 500 },
      },
    },
    plugins: [
      { name: 'ping', use: 'ping' }, { name: 'echo', use: 'echo' }, { name: 'help', use: 'help' }, { name: 'seen', use: 'seen' },
      { name: 'auth', use: 'auth' }, { name: 'notes', use: 'notes', parent: 'auth' },
      // The fuzzer's own child connection: a node of the config, so the supervisor vouches for it.
      { name: 'fuzzer', remote: true },
    ],
  });
  const report: FuzzReport = {
    seed: o.seed, seconds: o.seconds, inputs: { server_lines: 0, server_bytes: 0, dbus_calls: 0 }, dbus_replies: {},
    crashes: 0, crash_details: [], probes: { sent: 0, answered: 0, lost: 0 }, malformed: {}, reconnects: 0,
  };
  let stranger: MessageBus | undefined, child: MessageBus | undefined;
  try {
    await fake.waitRegistered({ timeout: 20_000 });
    say(`fuzz: the mouth registered on the fake server (port ${fake.port})`);
    const info = await runtimeInfo(hive);
    const before = await fetchTree(info);
    const mouthPid = before.nodes.find((n) => n.name === 'mouth')?.pid;
    // Wait for the whole tree, so restarts counted later are crashes, not start-up.
    for (let i = 0; i < 100 && (await fetchTree(info)).nodes.some((n) => n.name !== 'fuzzer' && n.state !== 'running'); i++) await new Promise((res) => setTimeout(res, 100));
    const mouthBus = nodeBusName(info.instance, 'mouth');
    stranger = await connectBus(info.bus_address);
    child = await connectBus(info.bus_address);
    // A child as the supervisor would make one: owning its node name, with that name's credential
    // (derived from the hive secret, which this operator-side tool reads from the runtime file).
    await callBus(child, 'RequestName', 'su', [nodeBusName(info.instance, 'fuzzer'), 4]);
    await callWithDeadline(child, { destination: mouthBus, path: NODE_PATH, interface: NODE_INTERFACE, member: 'Attach', signature: 'ss', body: ['fuzzer', nodeCredential(info.token, 'fuzzer')] }, 5000);

    say('fuzz: attached as a child of the mouth; fuzzing');
    const deadline = Date.now() + o.seconds * 1000;
    let nextProbe = Date.now();
    const pending = new Map<string, number>();
    let connections = fake.connections.length;
    let batches = 0;
    const dbusCall = async (bus: MessageBus) => {
      report.inputs.dbus_calls++;
      const wire = randomWire(r);
      const member = r() < 0.9 ? 'Send' : pick(r, ['Replay', 'Attach', 'Join', 'SendAs', 'Renew', 'SetParent']);
      const [signature, body] = member === 'Send' ? (r() < 0.9 ? [HIVE_MESSAGE_SIGNATURE, [wire]] : ['a{sv}', [wire[1]]])
        : member === 'Replay' ? ['st', [word(r), BigInt(Math.floor(r() * 2 ** 60))]]
        : member === 'SendAs' ? [`s${HIVE_MESSAGE_SIGNATURE}`, [word(r), wire]]
        : member === 'Join' ? ['ssa{sv}', [word(r), word(r), wire[1]]]
        : ['ss', [word(r), word(r)]];
      try {
        await callWithDeadline(bus, { destination: mouthBus, path: NODE_PATH, interface: NODE_INTERFACE, member, signature, body }, 5000);
        report.dbus_replies.ok = (report.dbus_replies.ok ?? 0) + 1;
      } catch (err) {
        const name = (err as { code?: string }).code ?? (err as Error).name;
        report.dbus_replies[name] = (report.dbus_replies[name] ?? 0) + 1;
      }
    };
    while (Date.now() < deadline) {
      const conn = fake.current;
      if (fake.connections.length !== connections) {
        report.reconnects += fake.connections.length - connections;
        connections = fake.connections.length;
        report.probes.lost += pending.size;
        pending.clear();
      }
      if (!conn || conn.closed || !conn.registered) { await new Promise((res) => setTimeout(res, 20)); continue; }
      // Probes: answered when the bot says the probe's token anywhere on the wire.
      for (const [token] of pending) if (conn.lines.some((l) => l.includes(token))) { pending.delete(token); report.probes.answered++; }
      if (Date.now() >= nextProbe) {
        nextProbe = Date.now() + 250;
        const t = `probe-${report.probes.sent}`;
        try {
          fake.send(`:prober!p@probe.host PRIVMSG ${CHANNEL} :!echo ${t}`);
        } catch {
          continue; // the mouth just dropped the connection (the input before): probe the next one
        }
        report.probes.sent++;
        pending.set(t, Date.now());
      }
      // A batch of server lines, sometimes in one write, sometimes cut across writes.
      // Phases (by batch count, so that the inputs follow from the seed): a storm (most lines mutated, which soon has the mouth drop the connection as
      // a MalformedFlood) and a gentle one (few lines, few mutated), which stays connected long
      // enough for state to build up (channels, batches, nick changes) under the odd bad line.
      const storm = batches++ % 400 < 100;
      const batch: Buffer[] = [];
      const n = storm ? 1 + Math.floor(r() * 20) : 1 + Math.floor(r() * 3);
      for (let i = 0; i < n; i++) batch.push(serverLine(r, conn.nick, storm ? 0.75 : 0.05), Buffer.from('\r\n'));
      if (r() < 0.002) { const junk = randomBytes(r, 64 * 1024 + Math.floor(r() * 64 * 1024)); for (let i = 0; i < junk.length; i++) if (junk[i] === 0x0a) junk[i] = 0x20; batch.push(junk); } // no line end: oversized
      const bytes = Buffer.concat(batch);
      report.inputs.server_lines += n;
      report.inputs.server_bytes += bytes.length;
      const cut = r() < 0.3 ? Math.floor(r() * bytes.length) : bytes.length;
      await fake.write(bytes.subarray(0, cut)).catch(() => undefined);
      if (cut < bytes.length) await fake.write(bytes.subarray(cut)).catch(() => undefined);
      const calls: Promise<void>[] = [];
      for (let i = 0, n = Math.floor(r() * 4); i < n; i++) calls.push(dbusCall(r() < 0.3 ? stranger : child));
      await Promise.all(calls);
      await new Promise((res) => setImmediate(res));
    }
    // Last probes get a few seconds to come back.
    const settle = Date.now() + 5000;
    while (pending.size && Date.now() < settle) {
      const lines = fake.current?.lines ?? [];
      for (const [token] of pending) if (fake.connections.some((c) => c.lines.some((l) => l.includes(token))) || lines.some((l) => l.includes(token))) { pending.delete(token); report.probes.answered++; }
      // The last input can still cut the connection the last probes were on (the mouth drops it for
      // what it read): those are lost with it, as during the run.
      if (fake.connections.length !== connections || !fake.current || fake.current.closed) {
        report.probes.lost += pending.size;
        pending.clear();
        break;
      }
      await new Promise((res) => setTimeout(res, 50));
    }
    const after = await fetchTree(info);
    const mouth = after.nodes.find((n) => n.name === 'mouth');
    report.malformed = malformedOf(mouth);
    if (mouth?.pid !== mouthPid) report.crash_details.push(`the mouth's pid changed: ${mouthPid} → ${mouth?.pid}`);
    for (const n of after.nodes) if (n.restarts) report.crash_details.push(`${n.name} restarted ${n.restarts} time(s)`);
    for (const l of hive.logs) if (l.level === 60) report.crash_details.push(`fatal log of ${String(l.node)}: ${String(l.msg)}`);
    if (hive.proc.exitCode !== null) report.crash_details.push(`the supervisor exited (${hive.proc.exitCode})`);
    report.crashes = report.crash_details.length;
    say(`fuzz: done; ${report.probes.answered}/${report.probes.sent} probes answered`);
  } finally {
    stranger?.disconnect();
    child?.disconnect();
    await hive.stop().catch(() => undefined);
    await fake.close();
  }
  return report;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '60' }, seed: { type: 'string' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', default: false } } });
  if (values.help) {
    process.stdout.write('npm run fuzz -- [--seconds N (60)] [--seed N (random)] [--json]\nExit 0: no crashes and every probe answered (but those sent on a connection the input cut); 1 otherwise.\n');
    return;
  }
  const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
  const seconds = Number(values.seconds);
  process.stderr.write(`fuzz: seed ${seed}, ${seconds} s (repeat with --seed ${seed})\n`);
  const report = await runFuzz({ seed, seconds, log: (l) => process.stderr.write(`${l}\n`) });
  if (values.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else {
    process.stdout.write([
      `seed ${report.seed}, ${report.seconds} s`,
      `inputs: ${report.inputs.server_lines} server lines (${(report.inputs.server_bytes / 1e6).toFixed(1)} MB), ${report.inputs.dbus_calls} D-Bus calls`,
      `D-Bus replies: ${Object.entries(report.dbus_replies).map(([k, v]) => `${k} ${v}`).join(', ')}`,
      `malformed: ${Object.entries(report.malformed).map(([k, v]) => `${k} ${v}`).join(', ') || 'none counted'}`,
      `reconnects of the fuzzed network: ${report.reconnects}`,
      `probes answered: ${report.probes.answered}/${report.probes.sent}${report.probes.lost ? ` (${report.probes.lost} lost with a connection the fuzz input cut)` : ''}`,
      `crashes: ${report.crashes}${report.crash_details.length ? `\n  ${report.crash_details.join('\n  ')}` : ''}`,
    ].join('\n') + '\n');
  }
  process.exitCode = report.crashes === 0 && report.probes.answered + report.probes.lost === report.probes.sent ? 0 : 1;
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) await main();
