/**
 * Structured logging (pino). One root logger per node; child loggers carry ids
 * (`peer`, `instanceId`, `streamPath`, `reqId`). Secrets are redacted by key.
 */
import { pino, type Logger, type DestinationStream } from 'pino';
import type { LogLevel } from './config.js';

export type { Logger };

const REDACT = [
  'secret',
  '*.secret',
  'password',
  '*.password',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
];

/** Creates the node's root logger, writing JSON lines to `destination` (stdout by default). */
export function createLogger(level: LogLevel, name: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { node: name },
      redact: { paths: REDACT, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination ?? pino.destination({ sync: false }),
  );
}
