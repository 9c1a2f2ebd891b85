// Text primitives shared by smtpd's parsers as this project reimplements
// them. smtpd works on C strings in the C locale: bytes, ASCII-only case
// folding, fixed-size buffers. These helpers give JavaScript strings the same
// behaviour, so a rule written here means what it means in smtpd.

/** smtpd's LINE_MAX (2048 on OpenBSD and Linux): its read buffers hold at most LINE_MAX - 1 bytes. */
export const LINE_MAX = 2048;
/** OpenBSD's PATH_MAX; Linux allows 4096, so a value within it is taken by both. */
export const PATH_MAX = 1024;
/** HOST_NAME_MAX + 1 on OpenBSD. */
export const HOSTNAME_SIZE = 256;
/** smtpd's table keys are copied into a 1024-byte buffer, so at most 1023 bytes. */
export const MAX_KEY_BYTES = 1023;

export function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** True when `s` fits a C buffer of `size` bytes with its terminating NUL (strlcpy's test). */
export function fits(s: string, size: number): boolean {
  // Each UTF-16 unit is at most 3 UTF-8 bytes: skip the count for short strings.
  return s.length * 3 < size || byteLength(s) < size;
}

const UPPER = /[A-Z]/;

/**
 * smtpd's lowercase(): tolower() byte by byte in the C locale, so only ASCII
 * letters change. smtpd folds table keys when it loads them and lookup keys
 * before it asks a table, so stored keys must be folded the same way.
 */
export function foldKey(s: string): string {
  return UPPER.test(s) ? s.replace(/[A-Z]+/g, (m) => m.toLowerCase()) : s;
}

const ASCII = /^[\x00-\x7f]*$/;

/**
 * The UTF-8 bytes of `s` as a string of one character per byte (latin1), so
 * that per-character algorithms written for C strings (globs, regexes) step
 * through bytes as smtpd does. ASCII strings are returned as they are.
 */
export function asBytes(s: string): string {
  return ASCII.test(s) ? s : Buffer.from(s, 'utf8').toString('latin1');
}

/** C's isspace() in the C locale. */
export function isSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\v' || c === '\f' || c === '\r';
}

export function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

export function isAlpha(c: string | undefined): boolean {
  return c !== undefined && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
}

export function isAlnum(c: string | undefined): boolean {
  return isAlpha(c) || isDigit(c);
}

/** smtpd's strip(): leading and trailing isspace() removed. */
export function strip(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isSpace(s[a])) a++;
  while (b > a && isSpace(s[b - 1])) b--;
  return s.slice(a, b);
}

/**
 * OpenBSD's strtonum() in base 10: optional leading spaces and sign, digits
 * to the end, value within [min, max]. undefined when it would set errstr.
 */
export function strtonum(s: string, min: number, max: number): number | undefined {
  const m = /^[ \t\n\v\f\r]*([+-]?)(\d+)$/.exec(s);
  if (!m) return undefined;
  const n = Number(m[2]) * (m[1] === '-' ? -1 : 1);
  if (!Number.isSafeInteger(n) || n < min || n > max) return undefined;
  return n;
}

/** Byte-wise comparison (strcmp order, which is also DynamoDB's sort-key order). */
export function compareBytes(a: string, b: string): number {
  if (a === b) return 0;
  if (ASCII.test(a) && ASCII.test(b)) return a < b ? -1 : 1;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
