/**
 * The floor under the depth figures: a chain of plain dbus-next processes that do only what a
 * pass-through hop must (receive the signal, emit it again; receive the Send call, call the
 * parent, return), with the same marshaller as the SDK and none of its logic.
 *
 *   node raw-chain.js link I LEAF   link I of the chain (I ≥ 1); LEAF = 1 for the last one
 *   node raw-chain.js root K COUNT  link 0: emits COUNT messages one at a time down a chain of
 *                                   K links and prints `done p50 p90 p99` of the round trips (ms)
 *
 * Link I owns org.hive.bench.chain<I> and hears only the signals of link I-1.
 */
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';
import { connectBus, addMatch, nameOwner, emitHiveSignal, callHiveMethod, Message, MessageType, type DBusMessage, type MessageBus } from '../../protocol/sdk/bus.js';
import { encode, type WireMessage } from '../../protocol/codec.js';
import { NODE_INTERFACE, NODE_PATH } from '../../protocol/names.js';
import { typicalMessage } from './typical-message.js';

const address = process.env.HIVE_BUS_ADDRESS!;
const nameOf = (i: number) => `org.hive.bench.chain${i}`;
const now = () => performance.now();

async function own(bus: MessageBus, i: number): Promise<void> {
  await bus.requestName(nameOf(i), 0x4);
}

function onSend(bus: MessageBus, handle: (wire: WireMessage, msg: DBusMessage) => void): void {
  (bus as unknown as { addMethodHandler(h: (m: DBusMessage) => boolean): void }).addMethodHandler((msg) => {
    if (msg.member !== 'Send') return false;
    handle((msg.body as [WireMessage])[0], msg);
    return true;
  });
}

async function link(i: number, leaf: boolean): Promise<void> {
  const bus = await connectBus(address);
  await own(bus, i);
  let parent: string | undefined;
  while (!(parent = await nameOwner(bus, nameOf(i - 1)))) await new Promise((r) => setTimeout(r, 20));
  const to = { destination: parent, path: NODE_PATH, interface: NODE_INTERFACE, member: 'Send' };
  await addMatch(bus, `type='signal',sender='${parent}',path='${NODE_PATH}',interface='${NODE_INTERFACE}',member='Message'`);
  bus.on('message', (msg: DBusMessage) => {
    if (msg.type !== MessageType.SIGNAL || msg.sender !== parent || msg.member !== 'Message') return;
    const [route, wire] = msg.body as [string, WireMessage];
    if (leaf) {
      const reply: WireMessage = [[Buffer.from('PRIVMSG #bench :pong')], { 'hive.network': wire[1]['hive.network']!, 'hive.reply_to': wire[1]['hive.id']! }];
      void callHiveMethod(bus, to, reply, 5000);
    } else {
      emitHiveSignal(bus, NODE_PATH, NODE_INTERFACE, 'Message', route, wire);
    }
  });
  onSend(bus, (wire, msg) => {
    callHiveMethod(bus, to, wire, 5000).then(() => bus.send(Message.newMethodReturn(msg, '', [])), () => undefined);
  });
  process.stdout.write('ready\n');
}

async function root(k: number, count: number): Promise<void> {
  const bus = await connectBus(address);
  await own(bus, 0);
  let answered: (() => void) | undefined;
  onSend(bus, (_wire, msg) => { bus.send(Message.newMethodReturn(msg, '', [])); answered?.(); });
  const self = fileURLToPath(import.meta.url);
  const links = await Promise.all(Array.from({ length: k }, async (_, j) => {
    const p = execa(process.execPath, [self, 'link', String(j + 1), j + 1 === k ? '1' : '0'], { env: process.env, stdout: 'pipe', stderr: 'inherit', buffer: false, reject: false });
    await new Promise<void>((r) => p.stdout!.once('data', () => r()));
    return { p }; // not p itself: an execa process is a promise, and returning it would wait for its end
  }));
  // The subscriptions are in place once every link has said ready; a few unmeasured rounds first.
  const times: number[] = [];
  for (let i = 0; i < count + 20; i++) {
    const t0 = now();
    await new Promise<void>((resolve) => {
      answered = resolve;
      emitHiveSignal(bus, NODE_PATH, NODE_INTERFACE, 'Message', 'PRIVMSG.command.ping', encode(typicalMessage(i)));
    });
    if (i >= 20) times.push(now() - t0);
  }
  for (const { p } of links) p.kill('SIGTERM');
  times.sort((a, b) => a - b);
  const q = (x: number) => times[Math.min(times.length - 1, Math.floor(x * times.length))]!.toFixed(3);
  process.stdout.write(`done ${q(0.5)} ${q(0.9)} ${q(0.99)}\n`);
  bus.disconnect();
}

const [role, a, b] = process.argv.slice(2);
if (role === 'link') await link(Number(a), b === '1');
else if (role === 'root') await root(Number(a), Number(b));
else { process.stderr.write('usage: raw-chain.js root K COUNT | link I LEAF\n'); process.exit(2); }
