import { pino, type Logger as PinoLogger } from 'pino';
import type { Logger } from '../base/index.js';
import type { Config } from './config.js';

/**
 * Structured JSON logs on stdout. Redaction is a second line of defence: no code path puts
 * secrets or plaintext in a log object, and these paths are censored if one ever does.
 */
export function createLogger(config: Pick<Config, 'log'>, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level: config.log.level,
      base: { pid: process.pid },
      redact: {
        paths: ['plaintext', 'secret', 'secretAccessKey', 'password', 'pin', '*.plaintext', '*.secret', '*.secretAccessKey', '*.password', '*.pin', 'headers.authorization'],
        censor: '[redacted]',
      },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination ?? pino.destination({ dest: 1, sync: false }),
  ) as unknown as Logger;
}

/**
 * A child of a pino logger without redaction, for log lines whose fields are a fixed list of
 * non-secret values (the XKS request line). Redaction clones and walks each logged object,
 * which costs tens of microseconds per line on the hot path.
 */
export function unredacted(log: Logger): Logger {
  const p = log as unknown as Partial<PinoLogger>;
  return typeof p.child === 'function' && typeof p.flush === 'function' ? (p.child({}, { redact: [] }) as unknown as Logger) : log;
}
