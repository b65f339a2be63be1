/**
 * Fan-out benchmark emitter: `node fanout-emitter.js sdk|raw COUNT`. Waits for "go" on stdin, then
 * emits COUNT typical HiveMessages as fast as it can: through the SDK (a HiveNode root, what the
 * mouth does) or with plain dbus-next signals. Prints `start <ms>` (performance time origin based).
 */
import { createInterface } from 'node:readline';
import dbus from 'dbus-next';
import { createLogger } from '../../protocol/logger.js';
import { encode } from '../../protocol/codec.js';
import { HiveNode } from '../../protocol/sdk/node.js';
import { connectBus } from '../../protocol/sdk/bus.js';
import { MESSAGE_SIGNAL_SIGNATURE, NODE_INTERFACE, NODE_PATH } from '../../protocol/names.js';
import { typicalMessage } from './typical-message.js';

const [mode, countArg] = process.argv.slice(2);
const count = Number(countArg);
const address = process.env.HIVE_BUS_ADDRESS!;
const now = () => performance.timeOrigin + performance.now();

let emitOne: (i: number) => void;
if (mode === 'sdk') {
  const node = new HiveNode({ name: 'mouth', kind: 'mouth', instance: process.env.HIVE_INSTANCE ?? 'bench', token: process.env.HIVE_TOKEN ?? 'bench', log: createLogger({ node: 'emitter', level: 'warn' }), busAddress: address });
  await node.start();
  emitOne = (i) => node.emit(typicalMessage(i));
  setInterval(() => process.stdout.write(`children ${node.children.size}\n`), 50).unref();
} else {
  const bus = await connectBus(address);
  await bus.requestName(`org.hive.${process.env.HIVE_INSTANCE ?? 'bench'}.mouth`, 0x4);
  emitOne = (i) => bus.send(dbus.Message.newSignal(NODE_PATH, NODE_INTERFACE, 'Message', MESSAGE_SIGNAL_SIGNATURE, ['PRIVMSG', encode(typicalMessage(i))]));
}
process.stdout.write('ready\n');
createInterface({ input: process.stdin }).once('line', () => {
  process.stdout.write(`start ${now()}\n`);
  for (let i = 0; i < count; i++) emitOne(i);
  process.stdout.write(`emitted ${now()}\n`);
});
