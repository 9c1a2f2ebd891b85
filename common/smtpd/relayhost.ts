// Relay URLs as smtpd's text_to_relayhost() (to.c) reads them when it relays
// through a host taken from a `relayhost` table:
// [smtp|smtp+tls|smtp+notls|lmtp|smtps://][label@]host[:port].

import { inetPtonV4, inetPtonV6 } from './netaddr.js';
import { HOSTNAME_SIZE, PATH_MAX, fits, isAlnum, strtonum } from './text.js';

const SCHEMES = [
  { name: 'smtp://', tls: 'opportunistic', lmtp: false },
  { name: 'smtp+tls://', tls: 'starttls', lmtp: false },
  { name: 'smtp+notls://', tls: 'no', lmtp: false },
  { name: 'lmtp://', tls: 'no', lmtp: true },
  { name: 'smtps://', tls: 'smtps', lmtp: false },
] as const;

/** BIND's res_hnok(), which smtpd's valid_domainpart() uses: LDH labels starting and ending with a letter or digit. */
function resHnok(dn: string): boolean {
  const border = (c: string | undefined): boolean => isAlnum(c);
  const middle = (c: string | undefined): boolean => border(c) || c === '-';
  let pch: string | undefined = '.';
  for (let i = 0; i < dn.length; i++) {
    const ch = dn[i];
    const nch = dn[i + 1];
    if (ch === '.') {
      // a period is always allowed
    } else if (pch === '.') {
      if (!border(ch)) return false;
    } else if (nch === '.' || nch === undefined) {
      if (!border(ch)) return false;
    } else if (!middle(ch)) return false;
    pch = ch;
  }
  return true;
}

/** smtpd's valid_domainpart(): an address literal in brackets, or a hostname. */
export function validDomainpart(s: string): boolean {
  if (s.startsWith('[')) {
    const inner = s.slice(0, 6).toLowerCase() === '[ipv6:' ? s.slice(6) : s.slice(1);
    if (!fits(inner, 256)) return false;
    const close = inner.indexOf(']');
    if (close < 0 || close !== inner.length - 1) return false;
    const addr = inner.slice(0, close);
    return inetPtonV6(addr) !== undefined || inetPtonV4(addr) !== undefined;
  }
  if (s === '' || !fits(s, 256) || s.endsWith('.')) return false;
  return resHnok(s);
}

/** Why smtpd could not relay through this URL, or undefined when it can. */
export function relayhostError(value: string): string | undefined {
  if (!fits(value, 1024)) return 'relay URL of 1024 bytes or more';
  const scheme = SCHEMES.find((s) => value.slice(0, s.name.length).toLowerCase() === s.name);
  if (!scheme && value.includes('://')) return 'unknown relay URL scheme';
  let p = scheme ? value.slice(scheme.name.length) : value;
  let label = '';
  const at = p.indexOf('@');
  if (at >= 0) {
    label = p.slice(0, at);
    if (!fits(label, PATH_MAX)) return 'relay auth label too long';
    p = p.slice(at + 1);
  }
  let host: string;
  if (p.startsWith('[')) {
    const close = p.indexOf(']');
    if (close < 0) return 'unterminated [ in relay host';
    host = p.slice(0, close + 1);
  } else {
    let end = 0;
    while (end < p.length && (isAlnum(p[end]) || p[end] === '_' || p[end] === '.' || p[end] === '-')) end++;
    host = p.slice(0, end);
  }
  if (!fits(host, HOSTNAME_SIZE)) return 'relay host name too long';
  let port = scheme?.lmtp ? 0 : 25;
  const rest = p.slice(host.length);
  if (rest.startsWith(':')) {
    const n = strtonum(rest.slice(1), 1, 65535);
    if (n === undefined) return 'invalid relay port';
    port = n;
  }
  if (!validDomainpart(host)) return 'invalid relay host name';
  if (scheme?.lmtp && port === 0) return 'lmtp:// needs an explicit port';
  if (label !== '' && scheme?.tls !== 'starttls' && scheme?.tls !== 'smtps') return 'an auth label needs smtp+tls:// or smtps://';
  return undefined;
}
