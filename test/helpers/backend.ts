import { startBackend, type Backend } from '../../lambda/local/backend.js';
import type { LocalCredentials } from '../../lambda/local/sigv4-verify.js';
import { replaceTable } from '../../lambda/store/replace.js';

export const TEST_CREDENTIALS: LocalCredentials = { accessKeyId: 'AKIDCLOUDTABLETEST', secretAccessKey: 'cloudtable-test-secret' };

/** Environment for a child proxy process signing with the test credentials. */
export const TEST_ENV: NodeJS.ProcessEnv = {
  AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
  AWS_SESSION_TOKEN: '',
  AWS_PROFILE: '',
  AWS_REGION: 'us-east-1',
};

export type Tables = Record<string, Array<readonly [string, string]>>;

/** The real local backend (dynalite + the lookup handler over HTTP) with tables loaded. */
export async function startTestBackend(tables: Tables = {}, opts: { port?: number; dataDir?: string } = {}): Promise<Backend> {
  const backend = await startBackend({ credentials: TEST_CREDENTIALS, ...opts });
  for (const [name, entries] of Object.entries(tables)) await replaceTable(backend.store, name, entries);
  return backend;
}
