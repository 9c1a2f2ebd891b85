// SigV4 signing of requests to the function (service `lambda`), with
// credentials from the standard AWS provider chain. The local backend
// verifies the same signature, so this path runs in every test. The signing
// library and the provider chain load at the first signature, not before:
// a table process that is never asked anything never loads them. A local
// backend this user started is signed for with the pair it generated
// (local-backend-file.ts); with AWS_ACCESS_KEY_ID set, or for any other
// URL, the chain alone, exactly as before. node:crypto (20 of Node's own
// modules, about 0.7 MiB) loads with them.

import type { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { localBackendKeyPair, mayUseLocalBackendFile } from './local-backend-file.js';

export interface SignInput {
  method: string;
  url: URL;
  path: string;
  body: string;
  headers: Record<string, string>;
}

interface Loaded {
  signer: SignatureV4;
  createHash: typeof import('node:crypto').createHash;
}

export class RequestSigner {
  private signer: Promise<Loaded> | undefined;

  constructor(
    private readonly region: string,
    /** The standard AWS provider chain when absent. */
    private readonly credentials?: AwsCredentialIdentityProvider,
  ) {}

  private load(url: URL): Promise<Loaded> {
    this.signer ??= (async () => {
      const [{ SignatureV4 }, { SIGV4_SERVICE, Sha256 }, { createHash }] = await Promise.all([
        import('@smithy/signature-v4'),
        import('../../common/sigv4.js'),
        import('node:crypto'),
      ]);
      const credentials =
        this.credentials ??
        (mayUseLocalBackendFile(url) ? localOrChain(url) : (await import('@aws-sdk/credential-provider-node')).defaultProvider());
      return { signer: new SignatureV4({ credentials, region: this.region, service: SIGV4_SERVICE, sha256: Sha256 }), createHash };
    })();
    // A failed load is tried again at the next signature.
    this.signer.catch(() => (this.signer = undefined));
    return this.signer;
  }

  /** Resolves once the signing library and the credential chain are loaded (a failed load is tried again by the next call). */
  async ready(url: URL): Promise<void> {
    await this.load(url);
  }

  /** Returns the headers to send: the given ones plus host, x-amz-date, x-amz-content-sha256, authorization (and a session token if any). */
  async sign(input: SignInput): Promise<Record<string, string>> {
    const { signer, createHash } = await this.load(input.url);
    const headers: Record<string, string> = {
      ...input.headers,
      host: input.url.host,
      'x-amz-content-sha256': createHash('sha256').update(input.body).digest('hex'),
    };
    const signed = await signer.sign({
      method: input.method,
      protocol: input.url.protocol,
      hostname: input.url.hostname,
      path: input.path,
      query: {},
      headers,
      body: input.body,
    });
    return signed.headers as Record<string, string>;
  }
}

/**
 * For a loopback URL: the local backend's generated pair, read at each
 * signature (a backend started after this process is signed for too), else
 * the standard AWS provider chain, loaded at its first use.
 */
function localOrChain(url: URL): AwsCredentialIdentityProvider {
  // One chain (it caches what it resolved), however many signatures its loading overlaps; a failed load is tried again.
  let chain: Promise<AwsCredentialIdentityProvider> | undefined;
  return async () => {
    const local = localBackendKeyPair(url);
    if (local) return local;
    if (!chain) {
      chain = import('@aws-sdk/credential-provider-node').then((m) => m.defaultProvider());
      chain.catch(() => (chain = undefined));
    }
    return (await chain)();
  };
}
