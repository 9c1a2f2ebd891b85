// Verifies a password against a crypt(3) hash as smtpd's crypt_checkpass()
// would, for the schemes `smtpctl encrypt` produces: bcrypt ($2a$, $2b$,
// $2y$; OpenBSD) and sha512-crypt / sha256-crypt ($6$, $5$; Linux with
// glibc's crypt). Both libraries are pure JavaScript (no native build) and
// compute the whole hash before comparing, so a wrong password costs as much
// as a right one.

import bcrypt from 'bcryptjs';
import { verify as shaCryptVerify } from 'unixcrypt';

export type Verdict = { ok: boolean } | { unsupported: string };

/** Work factors above these would stall the proxy for seconds per attempt (pure JS): refused. */
const MAX_BCRYPT_COST = 15;
const MAX_SHA_CRYPT_ROUNDS = 500_000;

const BCRYPT = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;
const SHA_CRYPT = /^\$([56])\$(?:rounds=(\d+)\$)?[^$]{0,16}\$[./A-Za-z0-9]+$/;

/** The scheme of a hash, for logs: its `$id$` prefix only. */
export function schemeOf(hash: string): string {
  const m = /^\$[^$]{1,8}\$/.exec(hash);
  return m ? m[0] : 'DES or unknown';
}

export async function verifyPassword(password: string, hash: string): Promise<Verdict> {
  const b = BCRYPT.exec(hash);
  if (b) {
    if (Number(b[1]) > MAX_BCRYPT_COST) return { unsupported: `bcrypt cost ${b[1]} above ${MAX_BCRYPT_COST}` };
    return { ok: await bcrypt.compare(password, hash) };
  }
  const s = SHA_CRYPT.exec(hash);
  if (s) {
    if (s[2] !== undefined && Number(s[2]) > MAX_SHA_CRYPT_ROUNDS) return { unsupported: `sha-crypt rounds above ${MAX_SHA_CRYPT_ROUNDS}` };
    try {
      return { ok: shaCryptVerify(password, hash) };
    } catch {
      // A malformed salt, or a digest of the wrong length: no password can match it.
      return { ok: false };
    }
  }
  // A scheme crypt(3) may know ($y$ yescrypt, $1$ md5, 13-character DES)
  // cannot be told here; any other string is no crypt(3) output, so no
  // password matches it, as in smtpd.
  if (/^\$[^$]{1,8}\$/.test(hash) || /^[./0-9A-Za-z]{13}$/.test(hash)) return { unsupported: `hash scheme ${schemeOf(hash)}` };
  return { ok: false };
}

/** sha512-crypt of a random string: verified against when the user is unknown, so that costs the same time. */
export const DUMMY_HASH = '$6$abcdefghijklmnop$J/AWykHqo2Tx5UtavGnFc3ytI33la50JpzLTarSWVhkIXK6wOjNwwZjsrIw2UgmrER2EKrSHCeQyAINEEXAk1/';
