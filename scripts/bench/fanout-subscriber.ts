/**
 * Fan-out benchmark subscriber: `node fanout-subscriber.js sdk|raw COUNT`. Counts the Message
 * signals from the emitter and prints `done <ms>` when it has COUNT. The sdk mode is an ordinary
 * plugin (it decodes each message and looks for a command in it, as every responder does); the raw
 * mode is plain dbus-next with a match rule on the emitter.
 */
import { connectBus, addMatch, nameOwner, MessageType, type DBusMessage } from '../../protocol/sdk/bus.js';
import { runPlugin } from '../../protocol/sdk/run.js';
import { NODE_INTERFACE, NODE_PATH } from '../../protocol/names.js';

const [mode, countArg] = process.argv.slice(2);
const count = Number(countArg);
const now = () => performance.timeOrigin + performance.now();
let seen = 0;
const tick = () => {
  if (++seen === count) process.stdout.write(`done ${now()}\n`);
};

if (mode === 'sdk') {
  await runPlugin({ name: 'fanout', kind: 'responder', commands: { nothing: { help: 'never said' } } }, (hive) => {
    hive.onMessage(tick);
    hive.command('nothing', () => undefined);
  });
  process.stdout.write('ready\n');
} else {
  const bus = await connectBus(process.env.HIVE_BUS_ADDRESS!);
  const emitter = await nameOwner(bus, process.env.HIVE_PARENT!);
  await addMatch(bus, `type='signal',sender='${emitter}',path='${NODE_PATH}',interface='${NODE_INTERFACE}',member='Message'`);
  bus.on('message', (msg: DBusMessage) => {
    if (msg.type === MessageType.SIGNAL && msg.sender === emitter && msg.member === 'Message') tick();
  });
  process.stdout.write('ready\n');
}
