// Structured logs to stderr: stdout is the table protocol in smtpd mode.

import { pino, type Logger } from 'pino';
import type { LogLevel } from './config.js';

export type { Logger };

export function createLogger(level: LogLevel = 'info', name = 'cloudtable'): Logger {
  return pino({ name, level, base: { pid: process.pid }, redact: { paths: ['password', '*.password', 'secret', '*.secret'], censor: '[redacted]' } }, pino.destination({ fd: 2, sync: false }));
}

/** For tests and library use. */
export const silentLogger: Logger = pino({ level: 'silent' });
