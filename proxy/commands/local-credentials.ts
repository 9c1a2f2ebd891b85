import { randomBytes } from 'node:crypto';
import type { LocalCredentials } from '../../lambda/local/sigv4-verify.js';

/**
 * The credentials the local backend accepts: CLOUDTABLE_LOCAL_ACCESS_KEY_ID /
 * CLOUDTABLE_LOCAL_SECRET_ACCESS_KEY, else the standard AWS_ACCESS_KEY_ID /
 * AWS_SECRET_ACCESS_KEY (so a proxy in the same shell signs with them), else
 * a fresh random pair that the caller prints for the user.
 */
export function localCredentials(env: NodeJS.ProcessEnv = process.env): { credentials: LocalCredentials; generated: boolean } {
  const id = env.CLOUDTABLE_LOCAL_ACCESS_KEY_ID ?? env.AWS_ACCESS_KEY_ID;
  const secret = env.CLOUDTABLE_LOCAL_SECRET_ACCESS_KEY ?? env.AWS_SECRET_ACCESS_KEY;
  if (id && secret) return { credentials: { accessKeyId: id, secretAccessKey: secret }, generated: false };
  return {
    credentials: { accessKeyId: `LOCAL${randomBytes(8).toString('hex').toUpperCase()}`, secretAccessKey: randomBytes(30).toString('base64url') },
    generated: true,
  };
}
