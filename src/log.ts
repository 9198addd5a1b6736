// pino root logger: one JSON line per event, to stderr (stdout is for command output such as
// `memlens watch`). Collectors get logger.child({ collector }).
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, destination: NodeJS.WritableStream = process.stderr): Logger {
  return pino({ level, base: { app: 'memlens' }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}
