// What the proxy (signer) and the local backend (verifier) agree on about
// SigV4 for a Function URL with AWS_IAM auth.

import { Hash } from '@smithy/hash-node';
import type { HashConstructor, SourceData } from '@smithy/types';

export const SIGV4_SERVICE = 'lambda';

/** Headers that must be covered by the signature; x-amz-content-sha256 binds the body. */
export const REQUIRED_SIGNED_HEADERS = ['host', 'x-amz-date', 'x-amz-content-sha256'] as const;

/** SignatureV4 wants a hash constructor taking an optional HMAC secret; node:crypto underneath. */
export const Sha256: HashConstructor = class extends Hash {
  constructor(secret?: SourceData) {
    super('sha256', secret);
  }
};
