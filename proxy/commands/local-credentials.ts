// The key pair the local backend accepts, from the environment or made up.

import { randomBytes } from 'node:crypto';
import type { LocalCredentials } from '../../lambda/local/sigv4-verify.js';
import { savedKeyPair } from '../http/local-backend-file.js';

/** Where the pair came from: CLOUDTABLE_LOCAL_*, AWS_*, or generated here. */
export type CredentialsSource = 'local-env' | 'aws-env' | 'generated';

/**
 * The credentials the local backend accepts: CLOUDTABLE_LOCAL_ACCESS_KEY_ID /
 * CLOUDTABLE_LOCAL_SECRET_ACCESS_KEY, else (unless `aws` is false) the
 * standard AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (so a proxy in the same
 * shell signs with them), else the pair generated last time (kept in the
 * user's local-backend file, so running proxies keep signing for a
 * restarted backend), else a fresh random pair. A generated pair is left in
 * that file for the other commands (http/local-backend-file.ts), never printed.
 */
export function localCredentials(env: NodeJS.ProcessEnv = process.env, o: { aws?: boolean } = {}): { credentials: LocalCredentials; generated: boolean; source: CredentialsSource } {
  if (env.CLOUDTABLE_LOCAL_ACCESS_KEY_ID && env.CLOUDTABLE_LOCAL_SECRET_ACCESS_KEY) {
    return { credentials: { accessKeyId: env.CLOUDTABLE_LOCAL_ACCESS_KEY_ID, secretAccessKey: env.CLOUDTABLE_LOCAL_SECRET_ACCESS_KEY }, generated: false, source: 'local-env' };
  }
  if (o.aws !== false && env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    return { credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY }, generated: false, source: 'aws-env' };
  }
  const saved = savedKeyPair(env);
  if (saved) return { credentials: saved, generated: true, source: 'generated' };
  return {
    credentials: { accessKeyId: `LOCAL${randomBytes(8).toString('hex').toUpperCase()}`, secretAccessKey: randomBytes(30).toString('base64url') },
    generated: true,
    source: 'generated',
  };
}
