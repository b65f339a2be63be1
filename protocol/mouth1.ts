/**
 * org.hive.Mouth1 at /org/hive/Mouth on the mouth's connection: what the supervisor asks of the
 * mouth itself (mouth/live-config.ts). Only the connection that owns
 * org.hive.<instance>.Supervisor may call it (docs/security.md).
 */
import type { InterfaceSpec } from './introspection.js';

export const MOUTH_PATH = '/org/hive/Mouth';

export const MOUTH1: InterfaceSpec = {
  name: 'org.hive.Mouth1',
  methods: {
    /**
     * networks: the config's `networks:` as JSON; applied network by network (added, removed,
     * channels joined and parted, or that network reconnecting). done: [{network, did}] as JSON.
     * NotAuthorized for any caller but the supervisor; InvalidArgs for networks that do not parse
     * or a terminal network coming, going or changing; Failed (the text names each) when a network could not be changed.
     */
    Configure: { in: [['networks', 's']], out: [['done', 's']] },
  },
  signals: {},
  properties: {},
};
