/**
 * The memory floor of a hive node (issue 17): `node dbus-idle.js I` is a bare node process with
 * dbus-next connected to the bus at HIVE_BUS_ADDRESS, owning org.hive.bench.idle<I>, doing nothing.
 * It imports dbus-next directly, not the SDK, so that it is what any node must at least cost.
 * Prints `ready` once it owns its name.
 */
import dbus from 'dbus-next';

const bus = dbus.sessionBus({ busAddress: process.env.HIVE_BUS_ADDRESS! });
await bus.requestName(`org.hive.bench.idle${process.argv[2] ?? '0'}`, 0x4);
process.stdout.write('ready\n');
// The socket keeps the process alive; the timer says so for a reader.
setInterval(() => undefined, 1 << 30);
