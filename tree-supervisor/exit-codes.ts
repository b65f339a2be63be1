/** Exit codes of the `hive` command (docs/cli.md#exit-codes). */
export const EXIT_CODES = {
  ok: 0,
  /** Something failed at run time (the text says what). */
  error: 1,
  /** Bad usage or a bad config file. */
  usage: 2,
  /** No running hive of that instance was found. */
  notRunning: 3,
  /** The supervisor refused the request (no such node, bad plugin spec, …). */
  refused: 4,
} as const;
