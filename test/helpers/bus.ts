/** A private dbus-daemon per test file, and an in-process root node standing in for the mouth. */
import { startPrivateBus, type PrivateBus } from '../../tree-supervisor/private-bus.js';
import { HiveNode } from '../../protocol/sdk/node.js';
import { createLogger } from '../../protocol/logger.js';
import { decode, type WireMessage } from '../../protocol/codec.js';
import type { HiveMessage } from '../../protocol/hive-message.js';
import { TEST_INSTANCE, TEST_TOKEN } from './node-process.js';
import { waitFor } from './wait.js';

export { startPrivateBus, type PrivateBus };

export interface TestRoot {
  node: HiveNode;
  received: (HiveMessage & { from: string })[];
  /** Waits for a message sent up that answers `id`. */
  replyTo(id: string, timeout?: number): Promise<HiveMessage & { from: string }>;
  stop(): Promise<void>;
}

/** A root node in the test process: it emits what the test says and records what comes up. */
export async function startTestRoot(bus: string, name = 'mouth'): Promise<TestRoot> {
  const node = new HiveNode({ name, kind: 'mouth', instance: TEST_INSTANCE, token: TEST_TOKEN, log: createLogger({ node: `test-${name}`, level: 'warn' }), busAddress: bus });
  const received: (HiveMessage & { from: string })[] = [];
  node.onUp = async (wire: WireMessage, child) => {
    received.push({ ...decode(wire), from: child.name });
  };
  await node.start();
  return {
    node,
    received,
    replyTo: (id, timeout = 10_000) => waitFor(() => received.find((m) => m.meta['hive.reply_to'] === id), { timeout, what: `a reply to ${id}` }),
    stop: () => node.stop(),
  };
}
