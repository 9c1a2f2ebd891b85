// smtpd's hostname matching (`*` globs in domain tables), byte for byte.

import { asBytes } from './text.js';

function lower(c: string): string {
  return c >= 'A' && c <= 'Z' ? c.toLowerCase() : c;
}

/**
 * smtpd's hostname_match() (util.c): ASCII case-insensitive, and `*` skips
 * the hostname forward to the next occurrence of the character that follows
 * it in the pattern, with no backtracking. So `*.example.org` matches
 * `a.example.org` but not `a.b.example.org`, and `*` matches any non-empty
 * hostname. Compared byte by byte, as in C.
 */
export function hostnameMatch(hostname: string, pattern: string): boolean {
  const h = asBytes(hostname);
  const p = asBytes(pattern);
  let i = 0;
  let j = 0;
  while (j < p.length && i < h.length) {
    if (p[j] === '*') {
      while (p[j] === '*') j++;
      // At the end of the pattern the target is C's NUL: skip everything.
      const next = j < p.length ? lower(p[j]!) : undefined;
      while (i < h.length && lower(h[i]!) !== next) i++;
      continue;
    }
    if (lower(p[j]!) !== lower(h[i]!)) return false;
    j++;
    i++;
  }
  return i === h.length && j === p.length;
}
