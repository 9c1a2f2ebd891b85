// SigV4 signing of requests to the function (service `lambda`), with
// credentials from the standard AWS provider chain. The local backend
// verifies the same signature, so this path runs in every test.

import { createHash } from 'node:crypto';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { SIGV4_SERVICE, Sha256 } from '../../common/sigv4.js';

export interface SignInput {
  method: string;
  url: URL;
  path: string;
  body: string;
  headers: Record<string, string>;
}

export class RequestSigner {
  private readonly signer: SignatureV4;

  constructor(region: string, credentials: AwsCredentialIdentityProvider = defaultProvider()) {
    this.signer = new SignatureV4({ credentials, region, service: SIGV4_SERVICE, sha256: Sha256 });
  }

  /** Returns the headers to send: the given ones plus host, x-amz-date, x-amz-content-sha256, authorization (and a session token if any). */
  async sign(input: SignInput): Promise<Record<string, string>> {
    const headers: Record<string, string> = {
      ...input.headers,
      host: input.url.host,
      'x-amz-content-sha256': createHash('sha256').update(input.body).digest('hex'),
    };
    const signed = await this.signer.sign({
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
