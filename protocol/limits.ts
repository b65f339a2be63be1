/**
 * Limits every node enforces on what reaches it over the bus (docs/protocol.md#limits), and the
 * limits of the private bus derived from them (tree-supervisor/private-bus.ts).
 */
export const LIMITS = {
  /** Lines in one HiveMessage. */
  maxLines: 128,
  /** Bytes in one line: 8191 bytes of IRCv3 tags plus a 512-byte IRC line. */
  maxLineBytes: 8704,
  /** Bytes of all lines of one message together. */
  maxMessageBytes: 65536,
  /** Entries in the metadata dictionary. */
  maxMetaEntries: 64,
  /**
   * Size of the metadata: every key and every value, nested ones too, counted as on the wire
   * without padding (validate.ts metaCost): a string 4 + its UTF-8 bytes + 1, a number its width,
   * an array 4 + its elements, a variant its signature + its value.
   */
  maxMetaBytes: 16384,
  /**
   * Body of a method call a node decodes at all (Send and SendAs are the largest). A HiveMessage
   * within the limits above marshals to well under this (the padding of the smallest values is at
   * most 8 times their counted size). A larger body is skipped unread (protocol/sdk/bus-gate.ts)
   * and refused with InvalidMessage, counted as `oversized`.
   */
  maxCallBodyBytes: 262144,
  /** Bytes of messages (estimated, replayBytes) one Replay answer carries; the oldest beyond it are left out (complete = false). */
  maxReplayBytes: 8 * 1024 * 1024,
  /** The private bus's max_message_size: the daemon refuses a larger message (a Replay answer is the largest we send). */
  busMaxMessageBytes: 16 * 1024 * 1024,
  /** The private bus's max_incoming_bytes and max_outgoing_bytes: what the daemon queues per connection. */
  busMaxQueueBytes: 64 * 1024 * 1024,
} as const;
