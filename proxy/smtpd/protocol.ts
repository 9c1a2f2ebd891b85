// The smtpd-tables(7) line protocol as smtpd 7.8 speaks it (see
// docs/protocols.md): parsing of smtpd's lines and formatting of our replies.
// Every reply goes through `format*` here, and none can carry CR, LF or NUL,
// an empty found value, or a foreign ID: smtpd exits on any of them.

import { isService, type Service } from '../../common/contract/lookup.js';

export type Request =
  | { op: 'update'; id: string; table: string }
  | { op: 'check' | 'lookup'; id: string; table: string; service: Service; key: string }
  | { op: 'fetch'; id: string; table: string; service: Service };

export type Parsed =
  | { ok: true; request: Request }
  /** `op` and `id` are set when they could be recovered, so the request can still be answered `error`. */
  | { ok: false; reason: string; op?: 'update' | 'check' | 'lookup' | 'fetch'; id?: string };

export type ConfigLine = { ok: true; key: string; value: string } | { ok: true; ready: true } | { ok: false; reason: string };

const ID_RE = /^[0-9A-Za-z]{1,32}$/;

export function parseConfigLine(line: string): ConfigLine {
  if (line === 'config|ready') return { ok: true, ready: true };
  if (!line.startsWith('config|')) return { ok: false, reason: 'expected a config| line during the handshake' };
  const rest = line.slice(7);
  const bar = rest.indexOf('|');
  if (bar <= 0) return { ok: false, reason: 'malformed config line' };
  return { ok: true, key: rest.slice(0, bar), value: rest.slice(bar + 1) };
}

/** Splits `n` fields off the front; the remainder (which may contain `|`) is the last element. */
function splitFields(line: string, n: number): string[] | undefined {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < n; i++) {
    const bar = line.indexOf('|', start);
    if (bar < 0) return undefined;
    out.push(line.slice(start, bar));
    start = bar + 1;
  }
  out.push(line.slice(start));
  return out;
}

export function parseRequest(line: string): Parsed {
  // table|VERSION|TIMESTAMP|TABLE|OP|...
  const head = splitFields(line, 5);
  if (!head || head[0] !== 'table') return { ok: false, reason: 'not a table request' };
  const [, version, , table, op, rest] = head as [string, string, string, string, string, string];
  if (version !== '0.1') return { ok: false, reason: `unsupported protocol version ${version}` };
  switch (op) {
    case 'update': {
      if (!ID_RE.test(rest)) return { ok: false, reason: 'malformed update id' };
      return { ok: true, request: { op, id: rest, table } };
    }
    case 'fetch': {
      const f = splitFields(rest, 1);
      if (!f) return { ok: false, reason: 'malformed fetch request' };
      const [service, id] = f as [string, string];
      if (!ID_RE.test(id)) return { ok: false, reason: 'malformed fetch id' };
      if (!isService(service)) return { ok: false, reason: `unknown service ${service}`, op, id };
      return { ok: true, request: { op, id, table, service } };
    }
    case 'check':
    case 'lookup': {
      const f = splitFields(rest, 2);
      if (!f) return { ok: false, reason: `malformed ${op} request` };
      const [service, id, key] = f as [string, string, string];
      if (!ID_RE.test(id)) return { ok: false, reason: `malformed ${op} id` };
      if (!isService(service)) return { ok: false, reason: `unknown service ${service}`, op, id };
      return { ok: true, request: { op, id, table, service, key } };
    }
    default:
      return { ok: false, reason: `unknown operation ${op}` };
  }
}

/** A value smtpd could not take on one line. */
export function unsafeValue(value: string): string | undefined {
  if (value.length === 0) return 'empty value';
  if (/[\r\n\0]/.test(value)) return 'value contains CR, LF or NUL';
  return undefined;
}

/** Keeps a message for smtpd's log on one line and short. */
export function safeMessage(msg: string): string {
  return msg.replace(/[\r\n\0|]+/g, ' ').slice(0, 200);
}

export function formatUpdate(id: string, ok: boolean, message?: string): string {
  return ok ? `update-result|${id}|ok\n` : `update-result|${id}|error${message ? `|${safeMessage(message)}` : ''}\n`;
}

export type Outcome = { s: 'found'; value: string } | { s: 'not-found' } | { s: 'error'; message?: string };

export function formatResult(op: 'check' | 'lookup' | 'fetch', id: string, outcome: Outcome): string {
  switch (outcome.s) {
    case 'not-found':
      return `${op}-result|${id}|not-found\n`;
    case 'error':
      return `${op}-result|${id}|error${outcome.message ? `|${safeMessage(outcome.message)}` : ''}\n`;
    case 'found': {
      if (op === 'check') return `check-result|${id}|found\n`;
      const bad = unsafeValue(outcome.value);
      if (bad) return `${op}-result|${id}|error|${bad}\n`;
      return `${op}-result|${id}|found|${outcome.value}\n`;
    }
  }
}
