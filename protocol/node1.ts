/**
 * The members of org.hive.Node1 as the runtime serves them; the introspection XML a running node
 * returns is generated from this table, and a test holds it equal to protocol/org.hive.Node1.xml.
 */
import { HIVE_MESSAGE_SIGNATURE, NODE_INTERFACE } from './names.js';
import { interfaceXml, type InterfaceSpec } from './introspection.js';

export const NODE1: InterfaceSpec = {
  name: NODE_INTERFACE,
  methods: {
    Send: { in: [['message', HIVE_MESSAGE_SIGNATURE]], out: [] },
    // Its answer: the last hive.seq passed down per network, where a child's replay starts if it has none of its own.
    Attach: { in: [['name', 's'], ['token', 's']], out: [['last_seqs', 'a{st}']] },
    Detach: { in: [], out: [] },
    SetParent: { in: [['parent', 's'], ['token', 's']], out: [] },
    Replay: { in: [['network', 's'], ['after', 't']], out: [['messages', `a${HIVE_MESSAGE_SIGNATURE}`], ['complete', 'b']] },
    // Replay for a node that subscribed to some routes only (docs/protocol.md#routes).
    ReplayRoutes: { in: [['network', 's'], ['after', 't'], ['routes', 'as']], out: [['messages', `a${HIVE_MESSAGE_SIGNATURE}`], ['complete', 'b']] },
    // A child without a connection of its own (gdbus, busctl: one connection per call), docs/protocol.md#a-node-without-a-connection.
    Join: { in: [['name', 's'], ['token', 's'], ['info', 'a{sv}']], out: [['key', 's'], ['lease', 'u']] },
    Renew: { in: [['key', 's']], out: [['lease', 'u']] },
    SendAs: { in: [['key', 's'], ['message', HIVE_MESSAGE_SIGNATURE]], out: [] },
    Leave: { in: [['key', 's']], out: [] },
  },
  signals: {
    Message: [['route', 's'], ['message', HIVE_MESSAGE_SIGNATURE]],
    Reparent: [['parent', 's']],
    MoveChild: [['name', 's'], ['parent', 's']],
  },
  properties: {
    Name: 's',
    Kind: 's',
    Parent: 's',
    Children: 'a(ss)',
    Commands: 'a(ss)',
    Counters: 'a{st}',
    Details: 'a{sv}',
  },
};

export const NODE1_XML = interfaceXml(NODE1);
