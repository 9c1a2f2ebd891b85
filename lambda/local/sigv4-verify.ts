// SigV4 verification for the local backend, so that the proxy's signing path
// is exercised for real: the backend re-signs the request with the secret it
// knows and compares signatures, as AWS does in front of a Function URL with
// AWS_IAM auth.

import { createHash, timingSafeEqual } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { REQUIRED_SIGNED_HEADERS, SIGV4_SERVICE, Sha256 } from '../../common/sigv4.js';

export interface LocalCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface SignedRequest {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string | undefined>;
  body: Buffer;
}

const AUTH_RE = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;
const MAX_SKEW_MS = 5 * 60 * 1000;

/** Returns undefined when the request is signed by `creds` for service `lambda`, else the reason to refuse it. */
export async function verifySigV4(req: SignedRequest, creds: LocalCredentials, now: Date = new Date()): Promise<string | undefined> {
  const auth = req.headers.authorization;
  if (!auth) return 'missing Authorization header (requests must be SigV4-signed)';
  const m = AUTH_RE.exec(auth);
  if (!m) return 'malformed Authorization header';
  const [, accessKeyId, , region, service, signedHeaderList, signature] = m as unknown as string[];
  if (accessKeyId !== creds.accessKeyId) return 'unknown access key';
  if (service !== SIGV4_SERVICE) return `signed for service ${service}, expected ${SIGV4_SERVICE}`;
  const amzDate = req.headers['x-amz-date'];
  const signingDate = amzDate ? parseAmzDate(amzDate) : undefined;
  if (!signingDate) return 'missing or malformed X-Amz-Date';
  if (Math.abs(now.getTime() - signingDate.getTime()) > MAX_SKEW_MS) return 'request time too skewed';
  const signed = signedHeaderList!.split(';');
  for (const h of REQUIRED_SIGNED_HEADERS) {
    if (!signed.includes(h)) return `header ${h} is not signed`;
  }
  const bodyHash = createHash('sha256').update(req.body).digest('hex');
  if (req.headers['x-amz-content-sha256'] !== bodyHash) return 'body does not match x-amz-content-sha256';

  const headers: Record<string, string> = {};
  for (const h of signed) {
    const v = req.headers[h];
    if (v === undefined) return `signed header ${h} is absent`;
    headers[h] = v;
  }
  const signer = new SignatureV4({ credentials: creds, region: region!, service: SIGV4_SERVICE, sha256: Sha256 });
  const expected = await signer.sign(
    { method: req.method, protocol: 'http:', hostname: headers.host!, path: req.path, query: parseQuery(req.query), headers, body: req.body },
    { signingDate },
  );
  const expectedSig = /Signature=([0-9a-f]{64})/.exec(String(expected.headers.authorization))?.[1] ?? '';
  const a = Buffer.from(expectedSig);
  const b = Buffer.from(signature!);
  return a.length === b.length && timingSafeEqual(a, b) ? undefined : 'signature does not match';
}

function parseAmzDate(s: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, se] = m.map(Number) as number[];
  return new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, se!));
}

function parseQuery(q: string): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(q));
}
