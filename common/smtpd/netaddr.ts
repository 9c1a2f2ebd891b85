// Network addresses as smtpd reads them: text_to_netaddr() (to.c) on top of
// inet_net_pton(3), parse_sockaddr() (table.c) on top of inet_pton(3), and
// the prefix comparison of table_netaddr_match() (table.c).

import { foldKey, isDigit, isSpace, strtonum } from './text.js';

export interface Netaddr {
  family: 4 | 6;
  /** 4 or 16 bytes, in network order; bytes past the given ones are zero. */
  bytes: Uint8Array;
  /** Prefix length: given after `/`, else inferred as inet_net_pton does. */
  bits: number;
}

/** NI_MAXHOST: text_to_netaddr copies the IPv6 text into a buffer of this size. */
const NI_MAXHOST = 1025;
/** INET6_ADDRSTRLEN + sizeof("/128"): inet_net_pton's IPv6 buffer. */
const INET6_NET_BUF = 46 + 5;

function isXdigit(c: string | undefined): boolean {
  return c !== undefined && /^[0-9a-fA-F]$/.test(c);
}

/**
 * inet_net_pton(AF_INET) as OpenBSD's libc (and OpenSMTPD's compat copy)
 * implements it: hex (`0x0a`) or dotted decimal with 1 to 4 octets, an
 * optional `/bits`, and without one a width inferred from the address class
 * and widened to the octets given: `10` is 10.0.0.0/8, `192.168.1` is
 * 192.168.1.0/24, `10.0.0.1` is a /32.
 */
export function inetNetPtonV4(src: string): Netaddr | undefined {
  const dst: number[] = [];
  let i = 0;
  let ch = src[i++];
  if (ch === '0' && (src[i] === 'x' || src[i] === 'X') && isXdigit(src[i + 1])) {
    i++;
    let tmp = 0;
    let dirty = 0;
    while ((ch = src[i++]) !== undefined && isXdigit(ch)) {
      const n = parseInt(ch, 16);
      tmp = dirty === 0 ? n : (tmp << 4) | n;
      if (++dirty === 2) {
        if (dst.length === 4) return undefined;
        dst.push(tmp);
        dirty = 0;
      }
    }
    if (dirty) {
      if (dst.length === 4) return undefined;
      dst.push(tmp << 4);
    }
  } else if (isDigit(ch)) {
    for (;;) {
      let tmp = 0;
      do {
        tmp = tmp * 10 + Number(ch);
        if (tmp > 255) return undefined;
      } while ((ch = src[i++]) !== undefined && isDigit(ch));
      if (dst.length === 4) return undefined;
      dst.push(tmp);
      if (ch === undefined || ch === '/') break;
      if (ch !== '.') return undefined;
      ch = src[i++];
      if (!isDigit(ch)) return undefined;
    }
  } else return undefined;

  let bits = -1;
  if (ch === '/' && isDigit(src[i]) && dst.length > 0) {
    ch = src[i++];
    bits = 0;
    do {
      bits = bits * 10 + Number(ch);
      if (bits > 32) return undefined;
    } while ((ch = src[i++]) !== undefined && isDigit(ch));
    if (ch !== undefined) return undefined;
  }
  if (ch !== undefined) return undefined;
  if (dst.length === 0) return undefined;
  if (bits === -1) {
    const first = dst[0]!;
    if (first >= 240) bits = 32;
    else if (first >= 224) bits = 4;
    else if (first >= 192) bits = 24;
    else if (first >= 128) bits = 16;
    else bits = 8;
    if (bits < dst.length * 8) bits = dst.length * 8;
  }
  const bytes = new Uint8Array(4);
  bytes.set(dst);
  return { family: 4, bytes, bits };
}

/** inet_pton(AF_INET): exactly four decimal octets, no leading zeros. */
export function inetPtonV4(src: string): Uint8Array | undefined {
  const parts = src.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (const [k, p] of parts.entries()) {
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out[k] = n;
  }
  return out;
}

/** inet_pton(AF_INET6): groups of 1–4 hex digits, one `::` at most, an optional dotted IPv4 tail. No zone. */
export function inetPtonV6(src: string): Uint8Array | undefined {
  const dbl = src.indexOf('::');
  if (dbl >= 0 && src.indexOf('::', dbl + 1) >= 0) return undefined;
  const head = dbl >= 0 ? src.slice(0, dbl) : src;
  const tail = dbl >= 0 ? src.slice(dbl + 2) : '';
  const parse = (part: string, allowV4: boolean): number[] | undefined => {
    if (part === '') return [];
    const groups = part.split(':');
    const out: number[] = [];
    for (const [k, g] of groups.entries()) {
      if (allowV4 && k === groups.length - 1 && g.includes('.')) {
        const v4 = inetPtonV4(g);
        if (!v4) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
        out.push(parseInt(g, 16));
      }
    }
    return out;
  };
  const h = parse(head, dbl < 0);
  const t = parse(tail, true);
  if (!h || !t) return undefined;
  let words: number[];
  if (dbl >= 0) {
    if (h.length + t.length > 7) return undefined;
    words = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  } else {
    if (h.length !== 8) return undefined;
    words = h;
  }
  const out = new Uint8Array(16);
  words.forEach((w, k) => {
    out[2 * k] = w >> 8;
    out[2 * k + 1] = w & 0xff;
  });
  return out;
}

/** inet_net_pton(AF_INET6): an address, optionally `/bits` (0–128, default 128). */
function inetNetPtonV6(src: string): Netaddr | undefined {
  if (src.length + 1 > INET6_NET_BUF) return undefined;
  const slash = src.indexOf('/');
  const addr = inetPtonV6(slash < 0 ? src : src.slice(0, slash));
  if (!addr) return undefined;
  let bits = 128;
  if (slash >= 0) {
    const b = strtonum(src.slice(slash + 1), 0, 128);
    if (b === undefined) return undefined;
    bits = b;
  }
  return { family: 6, bytes: addr, bits };
}

function stripIpv6Prefix(s: string): string {
  return s.slice(0, 5).toLowerCase() === 'ipv6:' ? s.slice(5) : s;
}

/**
 * text_to_netaddr(): an optional `IPv6:` prefix, then IPv4 network syntax,
 * else IPv6 with or without brackets (`[::1]`, `[IPv6:::1]`, `::1/64`).
 */
export function parseNetaddr(text: string): Netaddr | undefined {
  const s = stripIpv6Prefix(text);
  const v4 = inetNetPtonV4(s);
  if (v4) return v4;
  let buf: string;
  if (s[0] !== '[') buf = s;
  else {
    buf = stripIpv6Prefix(s.slice(1));
    if (!buf.endsWith(']')) return undefined;
    buf = buf.slice(0, -1);
  }
  if (buf.length + 1 > NI_MAXHOST) return undefined;
  return inetNetPtonV6(buf);
}

/** The address part of table_netaddr_match(): same family, equal under the entry's prefix. */
export function netaddrContains(entry: Netaddr, addr: Netaddr): boolean {
  if (entry.family !== addr.family) return false;
  const full = Math.floor(entry.bits / 8);
  for (let k = 0; k < full; k++) if (entry.bytes[k] !== addr.bytes[k]) return false;
  const rest = entry.bits % 8;
  if (rest === 0) return true;
  const mask = (0xff00 >> rest) & 0xff;
  return (entry.bytes[full]! & mask) === (addr.bytes[full]! & mask);
}

/** table_netaddr_match(key, entry): equal ignoring ASCII case, or both addresses and the key inside the entry's prefix. */
export function netaddrMatch(key: string, entry: string): boolean {
  if (key.length === entry.length && foldKey(key) === foldKey(entry)) return true;
  const k = parseNetaddr(key);
  if (!k) return false;
  const e = parseNetaddr(entry);
  return e !== undefined && netaddrContains(e, k);
}

function formatV6(b: Uint8Array): string {
  const words: number[] = [];
  for (let k = 0; k < 8; k++) words.push((b[2 * k]! << 8) | b[2 * k + 1]!);
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  }
  // RFC 5952: the longest run of two or more zero groups becomes `::` (the first on a tie).
  let best = -1;
  let bestLen = 1;
  for (let k = 0; k < 8; ) {
    if (words[k] !== 0) {
      k++;
      continue;
    }
    let e = k;
    while (e < 8 && words[e] === 0) e++;
    if (e - k > bestLen) {
      best = k;
      bestLen = e - k;
    }
    k = e;
  }
  const hex = (ws: number[]): string => ws.map((w) => w.toString(16)).join(':');
  if (best < 0) return hex(words);
  return `${hex(words.slice(0, best))}::${hex(words.slice(best + bestLen))}`;
}

/**
 * The text forms under which a full-length address is stored as an exact
 * key: dotted decimal for IPv4; RFC 5952 text, bare and in brackets, for
 * IPv6. A table key in any other form that parses as an address or prefix is
 * a pattern (see keys.ts), so the exact keys worth fetching for an address
 * are exactly these.
 */
export function exactAddressTexts(n: Netaddr): string[] {
  if (n.family === 4) return [Array.from(n.bytes).join('.')];
  const t = formatV6(n.bytes);
  return [t, `[${t}]`];
}

/** True when `key` is a full-length address written in one of its exact forms. */
export function isExactAddressText(key: string, n: Netaddr): boolean {
  return n.bits === (n.family === 4 ? 32 : 128) && exactAddressTexts(n).includes(key);
}

/**
 * parse_sockaddr(PF_UNSPEC) (table.c), for `source` values and `addrname`
 * keys: an IPv4 address, else IPv6 with optional `[`, `IPv6:` prefix, text
 * after `]` ignored and a `%scope` (numeric, or an interface name on a
 * link-local address: the interface cannot be checked off the mail host).
 */
export function parseSockaddr(text: string): boolean {
  if (inetPtonV4(text)) return true;
  let s = text.startsWith('[') ? text.slice(1) : text;
  s = stripIpv6Prefix(s);
  if (s.length + 1 > NI_MAXHOST) return false;
  const close = s.indexOf(']');
  if (close >= 0) s = s.slice(0, close);
  const pct = s.indexOf('%');
  const scope = pct >= 0 ? s.slice(pct + 1) : undefined;
  const addr = inetPtonV6(pct >= 0 ? s.slice(0, pct) : s);
  if (!addr) return false;
  if (scope === undefined) return true;
  const linkLocal = (addr[0] === 0xfe && (addr[1]! & 0xc0) === 0x80) || (addr[0] === 0xff && ((addr[1]! & 0x0f) === 0x02 || (addr[1]! & 0x0f) === 0x01));
  if (linkLocal && scope !== '' && !isSpace(scope[0])) return true;
  return strtonum(scope, 0, 0xffffffff) !== undefined;
}
