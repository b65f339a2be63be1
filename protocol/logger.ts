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

export function createLogger({ node, kind, level }: LoggerOptions): Logger {
  const lvl = level ?? process.env.HIVE_LOG_LEVEL ?? 'info';
  const base = kind ? { node, kind } : { node };
  const redact = { paths: ['password', '*.password', 'token', '*.token', 'sasl.password', 'config.password'], censor: '[secret]' };
  if (process.stderr.isTTY && process.env.HIVE_LOG_FORMAT !== 'json') {
    return pino({ level: lvl, base, redact, transport: { target: 'pino-pretty', options: { destination: 2, ignore: 'pid,hostname' } } });
  }
  return pino({ level: lvl, base, redact }, pino.destination({ dest: 2, sync: false }));
}
