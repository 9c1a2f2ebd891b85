// Structured logs to stderr: stdout is the table protocol in smtpd mode.
// What is logged never holds a password or a credentials value: keys are not
// logged (an smtpd `auth` key is `user:password`), values are not logged,
// and AWS credentials never reach a log call; the redaction below is a net.

import { pino, type Logger } from 'pino';
import type { LogLevel } from './config.js';

export type { Logger };

/** Log lines waiting for a slow stderr are dropped beyond this, rather than held in memory. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

export function createLogger(level: LogLevel = 'info', name = 'cloudtable'): Logger {
  return pino(
    {
      name,
      level,
      base: { pid: process.pid },
      redact: {
        paths: ['password', '*.password', 'secret', '*.secret', 'key', '*.key', 'value', '*.value', 'authorization', '*.authorization', 'headers', '*.headers'],
        censor: '[redacted]',
      },
    },
    pino.destination({ fd: 2, sync: false, maxLength: MAX_BUFFERED_BYTES }),
  );
}

/** For tests and library use. */
export const silentLogger: Logger = pino({ level: 'silent' });

/**
 * At most `max` lines of one kind per `windowMs`; what was held back is
 * counted and reported by the first line of a later window. A peer that
 * sends garbage as fast as it can gets a few lines, not a log flood.
 */
export class LogBudget {
  private windowStart = -Infinity;
  private used = 0;
  private held = 0;

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
  ) {}

  /** Logs a warning within the budget; the first line after some were held back says how many. */
  warn(log: Logger, fields: object, msg: string): void {
    const { log: now, held } = this.take();
    if (now) log.warn(held > 0 ? { ...fields, notLogged: held } : fields, held > 0 ? `${msg} (and ${held} more not logged)` : msg);
  }

  /** Whether to log this one; with the number of lines held back since the last one logged. */
  take(now = performance.now()): { log: boolean; held: number } {
    if (now - this.windowStart >= this.windowMs) {
      this.windowStart = now;
      this.used = 0;
    }
    if (this.used >= this.max) {
      this.held++;
      return { log: false, held: 0 };
    }
    this.used++;
    const held = this.held;
    this.held = 0;
    return { log: true, held };
  }
}
