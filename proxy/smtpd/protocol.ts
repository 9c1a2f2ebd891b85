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

export function parseConfigLine(line: string): ConfigLine {
  if (line === 'config|ready') return { ok: true, ready: true };
  if (!line.startsWith('config|')) return { ok: false, reason: 'expected a config| line during the handshake' };
  const rest = line.slice(7);
  const bar = rest.indexOf('|');
  if (bar <= 0) return { ok: false, reason: 'malformed config line' };
  return { ok: true, key: rest.slice(0, bar), value: rest.slice(bar + 1) };
}

/** Whether `s` is a request ID (1 to 32 letters and digits; smtpd writes hex), checked without a RegExp: this runs once per request. */
function isId(s: string): boolean {
  if (s.length === 0 || s.length > 32) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a))) return false;
  }
  return true;
}

/**
 * `table|VERSION|TIMESTAMP|TABLE|OP|...`, the fields found by position
 * (indexOf from the last bar, no array per request): the parser runs for
 * every lookup smtpd sends.
 */
export function parseRequest(line: string): Parsed {
  if (!line.startsWith('table|')) return { ok: false, reason: 'not a table request' };
  const v = line.indexOf('|', 6);
  const ts = v < 0 ? -1 : line.indexOf('|', v + 1);
  const t = ts < 0 ? -1 : line.indexOf('|', ts + 1);
  const o = t < 0 ? -1 : line.indexOf('|', t + 1);
  if (o < 0) return { ok: false, reason: 'not a table request' };
  if (v !== 9 || !line.startsWith('0.1', 6)) return { ok: false, reason: `unsupported protocol version ${line.slice(6, v)}` };
  const table = line.slice(ts + 1, t);
  // The common operation without a slice of its own.
  const op = o - t === 7 && line.startsWith('lookup', t + 1) ? 'lookup' : line.slice(t + 1, o);
  switch (op) {
    case 'update': {
      const id = line.slice(o + 1);
      if (!isId(id)) return { ok: false, reason: 'malformed update id' };
      return { ok: true, request: { op, id, table } };
    }
    case 'fetch': {
      const sv = line.indexOf('|', o + 1);
      if (sv < 0) return { ok: false, reason: 'malformed fetch request' };
      const service = line.slice(o + 1, sv);
      const id = line.slice(sv + 1);
      if (!isId(id)) return { ok: false, reason: 'malformed fetch id' };
      if (!isService(service)) return { ok: false, reason: `unknown service ${service}`, op, id };
      return { ok: true, request: { op, id, table, service } };
    }
    case 'check':
    case 'lookup': {
      const sv = line.indexOf('|', o + 1);
      const i = sv < 0 ? -1 : line.indexOf('|', sv + 1);
      if (i < 0) return { ok: false, reason: `malformed ${op} request` };
      const service = line.slice(o + 1, sv);
      const id = line.slice(sv + 1, i);
      // The key is the rest of the line: it may hold `|` (an auth password).
      const key = line.slice(i + 1);
      if (!isId(id)) return { ok: false, reason: `malformed ${op} id` };
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
  if (value.includes('\n') || value.includes('\r') || value.includes('\0')) return 'value contains CR, LF or NUL';
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
