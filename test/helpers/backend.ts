// The local backend for tests (real handler, dynalite), its test
// credentials, and clients signed with them.

import type { IncomingMessage } from 'node:http';
import { startBackend, type Backend, type BackendOptions } from '../../lambda/local/backend.js';
import type { LocalCredentials } from '../../lambda/local/sigv4-verify.js';
import { replaceTable } from '../../lambda/store/replace.js';
import { AdminClient } from '../../proxy/admin/client.js';
import { defaultConfig } from '../../proxy/config.js';
import { HttpUpstream } from '../../proxy/upstream/client.js';
import { RequestSigner } from '../../proxy/http/signer.js';

// The SDK warns once per process under Node 20; the Lambda runtime is 22.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// In-process runtimes of tests use the cache path unless a test configures replicas.
process.env.CLOUDTABLE_REPLICA_TABLES ??= 'none';

export const TEST_CREDENTIALS: LocalCredentials = { accessKeyId: 'AKIDCLOUDTABLETEST', secretAccessKey: 'cloudtable-test-secret' };

/** Environment for a child proxy process signing with the test credentials. */
export const TEST_ENV: NodeJS.ProcessEnv = {
  AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
  AWS_SESSION_TOKEN: '',
  AWS_PROFILE: '',
  AWS_REGION: 'us-east-1',
  // Tests of the cache path; the replica tests configure replicas (and a directory of their own) explicitly.
  CLOUDTABLE_REPLICA_TABLES: 'none',
};

export type Tables = Record<string, Array<readonly [string, string]>>;

export interface RequestLog {
  /** Requests seen per path (/v1/lookup, /v1/patterns…). */
  readonly paths: string[];
  /** Request bodies, as received. */
  readonly bodies: string[];
  reset(): void;
}

/** Records every HTTP request the backend receives (path and body), beside its own handling. */
export function recordRequests(backend: Backend): RequestLog {
  const log = {
    paths: [] as string[],
    bodies: [] as string[],
    reset() {
      log.paths.length = 0;
      log.bodies.length = 0;
    },
  };
  backend.http.server.prependListener('request', (req: IncomingMessage) => {
    log.paths.push(new URL(req.url ?? '/', 'http://local').pathname);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => log.bodies.push(Buffer.concat(chunks).toString('utf8')));
  });
  return log;
}

export type TestBackendOptions = Omit<BackendOptions, 'credentials'>;

/** The real local backend (dynalite + the lookup and admin handlers over HTTP) with tables loaded. */
export async function startTestBackend(tables: Tables = {}, opts: TestBackendOptions = {}): Promise<Backend> {
  const backend = await startBackend({ credentials: TEST_CREDENTIALS, ...opts });
  for (const [name, entries] of Object.entries(tables)) await replaceTable(backend.store, name, entries);
  return backend;
}

/** A clock tests move by hand: leases and garbage are judged by it. */
export class TestClock {
  private offset = 0;
  readonly now = (): number => Date.now() + this.offset;
  advance(ms: number): void {
    this.offset += ms;
  }
}

const signer = (): RequestSigner => new RequestSigner('us-east-1', () => Promise.resolve(TEST_CREDENTIALS));

/** The admin client `cloudtable load` uses, signed with the test credentials. */
export function testAdminClient(url: string): AdminClient {
  return new AdminClient({ url, signer: signer(), timeoutMs: 30_000 });
}

/** The proxy's HTTP client of the reader function, signed with the test credentials. */
export function testReader(url: string): HttpUpstream {
  return new HttpUpstream({ ...defaultConfig().upstream, url }, signer());
}
