/**
 * One pino logger per process, with the node name and kind bound on every line.
 * Pretty output only through a transport, and only when stderr is a TTY.
 * Logs go to stderr so that stdout stays free for program output (the terminal network).
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  node: string;
  kind?: string;
  level?: string;
}

const REDACT = { paths: ['password', '*.password', 'token', '*.token', 'sasl.password', 'config.password'], censor: '[secret]' };

/** A logger with no node bound: the supervisor binds each node's name on children of it. */
export function createRootLogger(level?: string): Logger {
  const lvl = level ?? process.env.HIVE_LOG_LEVEL ?? 'info';
  if (process.stderr.isTTY && process.env.HIVE_LOG_FORMAT !== 'json') {
    return pino({ level: lvl, base: null, redact: REDACT, transport: { target: 'pino-pretty', options: { destination: 2, ignore: 'pid,hostname' } } });
  }
  return pino({ level: lvl, base: null, redact: REDACT }, pino.destination({ dest: 2, sync: false }));
}

export function createLogger({ node, kind, level }: LoggerOptions): Logger {
  return createRootLogger(level).child(kind ? { node, kind } : { node });
}
