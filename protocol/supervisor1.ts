/**
 * The members of org.hive.Supervisor1 as the supervisor serves them; a test holds the generated
 * XML equal to protocol/org.hive.Supervisor1.xml.
 */
import { SUPERVISOR_INTERFACE } from './names.js';
import { interfaceXml, type InterfaceSpec } from './introspection.js';

export const SUPERVISOR1: InterfaceSpec = {
  name: SUPERVISOR_INTERFACE,
  methods: {
    Tree: { in: [], out: [['json', 's']] },
    Logs: { in: [['node', 's'], ['max', 'u']], out: [['lines', 'as']] },
    Reload: { in: [['config', 's'], ['dry_run', 'b']], out: [['result', 's']] },
    Start: { in: [['node', 's']], out: [] },
    Stop: { in: [['node', 's']], out: [] },
    Restart: { in: [['node', 's']], out: [] },
    Load: { in: [['spec', 's']], out: [['name', 's']] },
    Unload: { in: [['node', 's']], out: [] },
    Shutdown: { in: [], out: [] },
    Authenticate: { in: [['credential', 's']], out: [] },
    Vouch: { in: [['name', 's'], ['credential', 's']], out: [['ok', 'b']] },
    CheckParent: { in: [['child', 's'], ['parent', 's']], out: [['ok', 'b']] },
    RemoteAccess: { in: [['node', 's']], out: [['address', 's'], ['credential', 's']] },
  },
  signals: {
    NodeStateChanged: [['node', 's'], ['state', 's']],
  },
  properties: {
    Instance: 's',
    Ready: 'b',
    Counters: 'a{st}',
  },
};

export const SUPERVISOR1_XML = interfaceXml(SUPERVISOR1);
