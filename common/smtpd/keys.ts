// Table keys: how smtpd normalizes them, which of them are patterns, and
// which keys smtpd cannot use at all.

import type { Service } from '../contract/lookup.js';
import { exactAddressTexts, parseNetaddr } from './netaddr.js';
import { compileSmtpdRegex } from './regex.js';
import { MAX_KEY_BYTES, byteLength } from './text.js';

export { foldKey } from './text.js';

/**
 * True when a key can match lookup keys other than itself under `domain`,
 * `mailaddr` or `netaddr` matching: a `*` glob (domains, mail address
 * domains), or an address or prefix not written as one of the exact forms of
 * a single address (`10.0.0.0/8`, `192.168.1`, `[IPv6:::1]`, `::0:1`). Such
 * keys form a table generation's pattern set, which the proxy fetches once
 * and matches locally; every other key can only match a lookup key that the
 * proxy derives from the request and fetches directly. The rule does not
 * depend on the table's service, so one table can serve several.
 */
export function isPatternKey(key: string): boolean {
  if (key.includes('*')) return true;
  const n = parseNetaddr(key);
  if (!n) return false;
  return n.bits !== (n.family === 4 ? 32 : 128) || !exactAddressTexts(n).includes(key);
}

/** Why smtpd could not use `key` under `service`, or undefined. Keys are expected folded (foldKey). */
export function keyError(service: Service, key: string): string | undefined {
  if (key === '') return 'empty key';
  if (byteLength(key) > MAX_KEY_BYTES) return `key longer than ${MAX_KEY_BYTES} bytes`;
  if (/[\r\n\0]/.test(key)) return 'key contains CR, LF or NUL';
  if (service === 'regex') {
    const r = compileSmtpdRegex(key);
    if (!r.ok) return `regex cannot be matched as smtpd would: ${r.reason}`;
  }
  return undefined;
}
