// `cloudtable hash`: a password hash for an auth table (`user hash` lines,
// loaded with `--service auth`), in a scheme both smtpd's crypt_checkpass()
// and the proxy verify: bcrypt (what `smtpctl encrypt` makes on OpenBSD) or
// sha512-crypt (what it makes with glibc). The password is read from the
// terminal or standard input, never from the command line.

import { randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { encrypt as shaCrypt } from 'unixcrypt';
import { CommandError, EX, reportFailure } from './exit-codes.js';
import { readPassword } from './password-input.js';

import type { HashScheme } from './hash-schemes.js';

export interface HashFlags {
  scheme: HashScheme;
  /** bcrypt's cost (log2 of its rounds) or sha512-crypt's rounds. */
  rounds?: number;
}

/** bcrypt reads at most 72 bytes of a password: a longer one would be cut without a word. */
const BCRYPT_MAX_BYTES = 72;
const SALT_ALPHABET = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export async function hashCommand(flags: HashFlags): Promise<void> {
  try {
    const password = await readPassword(process.stdin, process.stderr);
    if (password === '') throw new CommandError(EX.DATAERR, 'empty password');
    process.stdout.write(`${await hashPassword(password, flags)}\n`);
  } catch (err) {
    reportFailure('hash', err);
  }
}

/** What the proxy verifies without stalling (password-hash.ts), and what the schemes allow. */
const ROUNDS = { bcrypt: [4, 15, 10], sha512: [1000, 500_000, 5000] } as const;

export async function hashPassword(password: string, flags: HashFlags): Promise<string> {
  const [min, max, standard] = ROUNDS[flags.scheme];
  const rounds = flags.rounds ?? standard;
  if (rounds < min || rounds > max) throw new CommandError(EX.USAGE, `--rounds for ${flags.scheme}: from ${min} to ${max}`);
  if (flags.scheme === 'bcrypt') {
    if (Buffer.byteLength(password) > BCRYPT_MAX_BYTES) {
      throw new CommandError(EX.DATAERR, `bcrypt uses only the first ${BCRYPT_MAX_BYTES} bytes of a password: use --scheme sha512 for a longer one`);
    }
    return bcrypt.hash(password, rounds);
  }
  const salt = [...randomBytes(16)].map((b) => SALT_ALPHABET[b % 64]).join('');
  return shaCrypt(password, rounds === standard ? `$6$${salt}` : `$6$rounds=${rounds}$${salt}`);
}
