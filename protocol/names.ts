/**
 * The names of the contract: interfaces, object paths, bus names and environment variables.
 * Everything a plugin in another language needs is spelled out again in docs/protocol.md.
 */

export const PREFIX = 'org.hive';
export const NODE_INTERFACE = 'org.hive.Node1';
export const SUPERVISOR_INTERFACE = 'org.hive.Supervisor1';
export const NODE_PATH = '/org/hive/Node';
export const SUPERVISOR_PATH = '/org/hive/Supervisor';
export const ERROR_PREFIX = 'org.hive.Error';

/** The D-Bus signature of a HiveMessage: raw IRC lines as bytes, and a metadata dictionary. */
export const HIVE_MESSAGE_SIGNATURE = '(aaya{sv})';
/** The Message signal: the route key of the message (docs/protocol.md#routes), then the message. */
export const MESSAGE_SIGNAL_SIGNATURE = `s${HIVE_MESSAGE_SIGNATURE}`;

/** Node and instance names go inside D-Bus bus names, so they must be valid name elements. */
export const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/** The well-known bus name a node owns: org.hive.<instance>.<node>. */
export function nodeBusName(instance: string, node: string): string {
  return `${PREFIX}.${instance}.${node}`;
}

/** The well-known bus name of a hive's supervisor. */
export function supervisorBusName(instance: string): string {
  return `${PREFIX}.${instance}.Supervisor`;
}

/** The environment a supervisor hands to every node it starts (docs/protocol.md#environment). */
export const ENV = {
  busAddress: 'HIVE_BUS_ADDRESS',
  instance: 'HIVE_INSTANCE',
  node: 'HIVE_NODE',
  parent: 'HIVE_PARENT',
  token: 'HIVE_TOKEN',
  stateDir: 'HIVE_STATE_DIR',
  config: 'HIVE_CONFIG',
  logLevel: 'HIVE_LOG_LEVEL',
  /** "1": check a caller's credential by asking the supervisor (Supervisor1.Vouch), not against the node's own token. */
  vouch: 'HIVE_VOUCH',
  /** "1": no node of the config has this one as parent, so a filter or aggregator may take its own routes only (docs/protocol.md#routes). */
  leaf: 'HIVE_LEAF',
  /** "1": HIVE_CONFIG is the output of the supervisor's own check (the mouth takes it as it is). */
  configChecked: 'HIVE_CONFIG_CHECKED',
} as const;
