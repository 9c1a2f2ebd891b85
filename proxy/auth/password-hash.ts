// Verifies a password against a crypt(3) hash as smtpd's crypt_checkpass()
// would, for the schemes `smtpctl encrypt` produces: bcrypt ($2a$, $2b$,
// $2y$; OpenBSD) and sha512-crypt / sha256-crypt ($6$, $5$; Linux with
// glibc's crypt). Both libraries are pure JavaScript (no native build) and
// compute the whole hash before comparing, so a wrong password costs as much
// as a right one. Each loads at its first use: most table processes never
// check a password (node:crypto too).

const bcryptjs = async (): Promise<typeof import('bcryptjs').default> => (await import('bcryptjs')).default;
const unixcrypt = (): Promise<typeof import('unixcrypt')> => import('unixcrypt');

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

/**
 * Why no password could ever be verified against `hash` here (a plaintext
 * password, an unsupported scheme, a work factor above the limits), or
 * undefined for a hash verifyPassword() checks: what `cloudtable load
 * --service auth` holds every value to.
 */
export function unverifiable(hash: string): string | undefined {
  const b = BCRYPT.exec(hash);
  if (b) return Number(b[1]) > MAX_BCRYPT_COST ? `bcrypt cost ${b[1]} above ${MAX_BCRYPT_COST}` : undefined;
  const s = SHA_CRYPT.exec(hash);
  if (s) return s[2] !== undefined && Number(s[2]) > MAX_SHA_CRYPT_ROUNDS ? `sha-crypt rounds above ${MAX_SHA_CRYPT_ROUNDS}` : undefined;
  if (/^\$[^$]{1,8}\$/.test(hash)) return `hash scheme ${schemeOf(hash)} is not one the proxy verifies (bcrypt $2b$, sha512-crypt $6$, sha256-crypt $5$)`;
  return 'not a password hash (bcrypt or sha512-crypt: make one with `cloudtable hash`)';
}

export async function verifyPassword(password: string, hash: string): Promise<Verdict> {
  const b = BCRYPT.exec(hash);
  if (b) {
    if (Number(b[1]) > MAX_BCRYPT_COST) return { unsupported: `bcrypt cost ${b[1]} above ${MAX_BCRYPT_COST}` };
    return { ok: await (await bcryptjs()).compare(password, hash) };
  }
  const s = SHA_CRYPT.exec(hash);
  if (s) {
    if (s[2] !== undefined && Number(s[2]) > MAX_SHA_CRYPT_ROUNDS) return { unsupported: `sha-crypt rounds above ${MAX_SHA_CRYPT_ROUNDS}` };
    const { verify: shaCryptVerify } = await unixcrypt();
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

/**
 * The scheme and cost of a hash that can be verified here, as a crypt(3)
 * setting (`$2b$10$`, `$6$rounds=5000$`), or undefined: what a dummy hash
 * must share with it for a verification to take the same time.
 */
export function costOf(hash: string): string | undefined {
  const b = BCRYPT.exec(hash);
  if (b) return Number(b[1]) <= MAX_BCRYPT_COST ? `$2b$${b[1]}$` : undefined;
  const s = SHA_CRYPT.exec(hash);
  if (!s) return undefined;
  // glibc's default when the hash names no rounds.
  const rounds = s[2] === undefined ? 5000 : Number(s[2]);
  return rounds <= MAX_SHA_CRYPT_ROUNDS ? `$${s[1]}$rounds=${rounds}$` : undefined;
}

/**
 * Used for an unknown user until the table's own cost is known: bcrypt at
 * cost 10, what `smtpctl encrypt` makes on OpenBSD.
 */
export const DEFAULT_COST = '$2b$10$';

const dummies = new Map<string, Promise<string>>();

/**
 * A hash of a random password with the given setting (from costOf), made
 * once per setting and process: verifying a password against it costs what
 * verifying against a real hash of that setting costs, and never succeeds.
 */
export function dummyHash(setting: string): Promise<string> {
  let d = dummies.get(setting);
  if (d === undefined) {
    const { randomBytes } = process.getBuiltinModule('node:crypto');
    const secret = randomBytes(18).toString('base64');
    const bcryptCost = /^\$2b\$(\d\d)\$$/.exec(setting);
    const salt = randomBytes(12).toString('base64').replace(/\+/g, '.');
    d = bcryptCost ? bcryptjs().then((b) => b.hash(secret, Number(bcryptCost[1]))) : unixcrypt().then((u) => u.encrypt(secret, `${setting}${salt}`));
    dummies.set(setting, d);
  }
  return d;
}
