/** Limits every node enforces on a HiveMessage (docs/protocol.md#limits). */
export const LIMITS = {
  /** Lines in one HiveMessage. */
  maxLines: 128,
  /** Bytes in one line: 8191 bytes of IRCv3 tags plus a 512-byte IRC line. */
  maxLineBytes: 8704,
  /** Bytes of all lines of one message together. */
  maxMessageBytes: 65536,
  /** Entries in the metadata dictionary. */
  maxMetaEntries: 64,
  /** Bytes of metadata keys and string values together (approximate size on the wire). */
  maxMetaBytes: 16384,
} as const;
