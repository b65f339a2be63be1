/** An error a `hive` command ends with: its message for stderr and its exit code (exit-codes.ts). */
export class CliError extends Error {
  constructor(message: string, readonly exitCode: number) { super(message); }
}
