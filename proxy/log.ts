// Structured logs to stderr: stdout is the table protocol in smtpd mode.
// What is logged never holds a password or a credentials value: keys are not
// logged (an smtpd `auth` key is `user:password`), values are not logged,
// and AWS credentials never reach a log call; the redaction below is a net.

import { createRequire } from 'node:module';
import type { Logger as Pino } from 'pino';
import type { LogLevel } from './config.js';

/** A log call: fields then a message, or a message alone. */
export interface LogFn {
  (fields: object, msg?: string): void;
  (msg: string): void;
}

/** What the proxy logs through (pino's Logger is one). */
export interface Logger {
  level: string;
  fatal: LogFn;
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
  trace: LogFn;
  /** Writes what is buffered (before an exit). */
  flush(): void;
}

/** Log lines waiting for a slow stderr are dropped beyond this, rather than held in memory. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

const LEVEL_VALUES: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };
type Method = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** The time of a line logged before pino was loaded, while it is written. */
let replayingTime: number | undefined;

function createPino(level: string, name: string): { log: Pino; flushSync: () => void } {
  // Loaded here, at the first line that passes the level: pino with its
  // transport machinery costs a table process about 25 ms of start and
  // 2 MiB; an idle one logs one line, after its handshake.
  const require = createRequire(import.meta.url);
  const { pino } = require('pino') as typeof import('pino');
  // pino's own destination, sonic-boom, in the major that gives up on a
  // closed stderr: 4.x (pino's) retries a write that failed with EPIPE every
  // 100 ms forever, so a table process whose stderr reader had gone (smtpd
  // -d piped into a pager that quit) never exited at smtpd's EOF.
  const { SonicBoom } = require('sonic-boom') as typeof import('sonic-boom');
  const boom = new SonicBoom({ fd: 2, sync: false, maxLength: MAX_BUFFERED_BYTES });
  let gone = false;
  // stderr closed or failing: what would be logged has nowhere to go, and that is no reason to stop answering.
  boom.on('error', () => {
    gone = true;
  });
  const destination = {
    write: (line: string): boolean => gone || boom.write(line),
    flush: (cb?: (err?: Error) => void): void => (gone ? cb?.() : boom.flush(cb)),
  };
  const flushSync = (): void => {
    if (gone) return;
    try {
      boom.flushSync();
    } catch {
      gone = true;
    }
  };
  const log = pino(
    {
      name,
      level,
      base: { pid: process.pid },
      timestamp: () => `,"time":${replayingTime ?? Date.now()}`,
      redact: {
        paths: ['password', '*.password', 'secret', '*.secret', 'key', '*.key', 'value', '*.value', 'authorization', '*.authorization', 'headers', '*.headers'],
        censor: '[redacted]',
      },
    },
    destination,
  );
  return { log, flushSync };
}

/**
 * pino, loaded at the first line that passes the level and not before: a
 * line logged earlier waits in order, with its time, for the next turn of
 * the event loop (after smtpd's handshake reply has gone), or for flush()
 * or the process's exit, whichever comes first.
 */
class DeferredLogger implements Logger {
  private pino: { log: Pino; flushSync: () => void } | undefined;
  private readonly waiting: Array<{ method: Method; args: [object | string, string?]; time: number }> = [];
  private scheduled = false;
  private threshold: number;

  constructor(
    private currentLevel: string,
    private readonly name: string,
  ) {
    this.threshold = LEVEL_VALUES[currentLevel] ?? LEVEL_VALUES.info!;
  }

  get level(): string {
    return this.currentLevel;
  }

  set level(level: string) {
    this.currentLevel = level;
    this.threshold = LEVEL_VALUES[level] ?? LEVEL_VALUES.info!;
    if (this.pino) this.pino.log.level = level;
  }

  readonly fatal: LogFn = (a: object | string, msg?: string) => this.write('fatal', a, msg);
  readonly error: LogFn = (a: object | string, msg?: string) => this.write('error', a, msg);
  readonly warn: LogFn = (a: object | string, msg?: string) => this.write('warn', a, msg);
  readonly info: LogFn = (a: object | string, msg?: string) => this.write('info', a, msg);
  readonly debug: LogFn = (a: object | string, msg?: string) => this.write('debug', a, msg);
  readonly trace: LogFn = (a: object | string, msg?: string) => this.write('trace', a, msg);

  flush(): void {
    this.load();
    this.pino?.log.flush();
  }

  private write(method: Method, a: object | string, msg: string | undefined): void {
    if (LEVEL_VALUES[method]! < this.threshold) return;
    if (this.pino) {
      if (msg === undefined) this.pino.log[method](a);
      else this.pino.log[method](a, msg);
      return;
    }
    this.waiting.push({ method, args: msg === undefined ? [a] : [a, msg], time: Date.now() });
    if (!this.scheduled) {
      this.scheduled = true;
      setTimeout(() => this.load(), 0);
      process.once('exit', () => {
        this.load();
        this.pino?.flushSync();
      });
    }
  }

  /** Loads pino when lines wait, and writes them. */
  private load(): void {
    if (this.pino || this.waiting.length === 0) return;
    this.pino = createPino(this.currentLevel, this.name);
    for (const { method, args, time } of this.waiting.splice(0)) {
      replayingTime = time;
      try {
        if (args.length === 1) this.pino.log[method](args[0]);
        else this.pino.log[method](args[0], args[1]);
      } finally {
        replayingTime = undefined;
      }
    }
  }
}

export function createLogger(level: LogLevel = 'info', name = 'cloudtable'): Logger {
  return new DeferredLogger(level, name);
}

/** For tests and library use: logs nothing, and never loads pino. */
export const silentLogger: Logger = new DeferredLogger('silent', 'cloudtable');

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
