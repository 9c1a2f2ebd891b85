// The proxy's logs as tests read them: pino's JSON lines on a child's stderr.

import { waitUntil } from './wait.js';

export type LogLine = Record<string, unknown> & { level?: number; msg?: string };

/** pino's JSON lines; anything else on stderr (a crash trace) is kept as { msg }. */
export function parseLogs(stderr: string): LogLine[] {
  return stderr
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      try {
        return JSON.parse(l) as LogLine;
      } catch {
        return { msg: l };
      }
    });
}

/** The line a proxy logs when its metrics endpoint listens. */
export const isMetricsListening = (l: LogLine): boolean => l.msg === 'metrics endpoint listening';

/** The endpoint's base URL from that line. */
export function metricsBase(l: LogLine): string {
  return String(l.url).replace(/\/metrics$/, '');
}

/** Waits until `stderr()` holds a log line that `match` accepts. */
export function waitForLog(stderr: () => string, match: (l: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> {
  return waitUntil(() => parseLogs(stderr()).find(match), { timeoutMs, what: () => `a log line; stderr: ${stderr().slice(-2000)}` });
}
