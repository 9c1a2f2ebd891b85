// SigV4 verification for the local backend, as strict as AWS in front of a
// Function URL with AWS_IAM auth: the access key names a known identity,
// the credential scope is this backend's region, service `lambda` and the
// date of X-Amz-Date, the Host is this backend's, the time is within five
// minutes, and the signature matches a re-signing with the identity's
// secret. All of this is decided from the headers alone, before one byte of
// the body is read (the signature covers x-amz-content-sha256, the body's
// hash, which is checked once the body is in): an unsigned request cannot
// make the backend buffer anything.

import { createHash, timingSafeEqual } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { REQUIRED_SIGNED_HEADERS, SIGV4_SERVICE, Sha256 } from '../../common/sigv4.js';
import type { IamPrincipal } from '../function-url.js';

export interface LocalCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** A key pair the local backend accepts, and the principal it stands for. */
export interface LocalIdentity extends LocalCredentials {
  /** `arn:aws:iam::ACCOUNT:user/NAME`, or `arn:aws:iam::ACCOUNT:role/NAME` (signing as a session of that role). */
  arn: string;
}

export interface SignedHeaders {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string | undefined>;
}

export interface VerifierOptions {
  identities: LocalIdentity[];
  /** The region a signature must be scoped to (the function's). */
  region: string;
  /** Whether a Host header names this backend. */
  isOwnHost: (host: string) => boolean;
}

export type Verified = { principal: IamPrincipal; bodySha256: string } | { refusal: string };

const AUTH_RE = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;
const MAX_SKEW_MS = 5 * 60 * 1000;
const SHA256_HEX = /^[0-9a-f]{64}$/;

/** The local account: no real account has this id. */
export const LOCAL_ACCOUNT = '000000000000';

export class SigV4Verifier {
  private readonly byKey: Map<string, { creds: LocalCredentials; principal: IamPrincipal }>;

  constructor(private readonly o: VerifierOptions) {
    this.byKey = new Map(o.identities.map((id) => [id.accessKeyId, { creds: id, principal: principalOf(id) }]));
  }

  /** Checks everything but the body against its signed hash; never reads the body. */
  async verifyHeaders(req: SignedHeaders, now: Date = new Date()): Promise<Verified> {
    const auth = req.headers.authorization;
    if (!auth) return { refusal: 'missing Authorization header (requests must be SigV4-signed)' };
    const m = AUTH_RE.exec(auth);
    if (!m) return { refusal: 'malformed Authorization header' };
    const [, accessKeyId, scopeDate, region, service, signedHeaderList, signature] = m as unknown as string[];
    const known = this.byKey.get(accessKeyId!);
    if (!known) return { refusal: 'unknown access key' };
    if (service !== SIGV4_SERVICE) return { refusal: `signed for service ${service}, expected ${SIGV4_SERVICE}` };
    if (region !== this.o.region) return { refusal: `signed for region ${region}, expected ${this.o.region}` };
    const amzDate = req.headers['x-amz-date'];
    const signingDate = amzDate ? parseAmzDate(amzDate) : undefined;
    if (!signingDate) return { refusal: 'missing or malformed X-Amz-Date' };
    if (amzDate!.slice(0, 8) !== scopeDate) return { refusal: 'credential scope date is not the date of X-Amz-Date' };
    if (Math.abs(now.getTime() - signingDate.getTime()) > MAX_SKEW_MS) return { refusal: 'request time too skewed' };
    const signed = signedHeaderList!.split(';');
    for (const h of REQUIRED_SIGNED_HEADERS) {
      if (!signed.includes(h)) return { refusal: `header ${h} is not signed` };
    }
    const host = req.headers.host;
    if (host === undefined || !this.o.isOwnHost(host)) return { refusal: 'Host is not this function URL' };
    const bodySha256 = req.headers['x-amz-content-sha256'] ?? '';
    if (!SHA256_HEX.test(bodySha256)) return { refusal: 'malformed x-amz-content-sha256' };

    const headers: Record<string, string> = {};
    for (const h of signed) {
      const v = req.headers[h];
      if (v === undefined) return { refusal: `signed header ${h} is absent` };
      headers[h] = v;
    }
    // The signer takes the payload hash from x-amz-content-sha256, so no body is needed to re-sign.
    const signer = new SignatureV4({ credentials: known.creds, region: region!, service: SIGV4_SERVICE, sha256: Sha256 });
    const expected = await signer.sign(
      { method: req.method, protocol: 'http:', hostname: host, path: req.path, query: parseQuery(req.query), headers },
      { signingDate },
    );
    const expectedSig = /Signature=([0-9a-f]{64})/.exec(String(expected.headers.authorization))?.[1] ?? '';
    const a = Buffer.from(expectedSig);
    const b = Buffer.from(signature!);
    if (a.length !== b.length || !timingSafeEqual(a, b)) return { refusal: 'signature does not match' };
    return { principal: known.principal, bodySha256 };
  }
}

/** Whether the body is the one whose hash was signed. */
export function bodyMatches(body: Buffer, sha256Hex: string): boolean {
  return createHash('sha256').update(body).digest('hex') === sha256Hex;
}

/**
 * The request context AWS gives for a key pair: an IAM user signs as
 * itself; a role is signed for by a session of it, named here after the
 * access key, as `sts:AssumeRole` would.
 */
export function principalOf(id: LocalIdentity): IamPrincipal {
  const m = /^arn:aws:iam::(\d{12}):(user|role)\/(?:.*\/)?([^/]+)$/.exec(id.arn);
  if (!m) throw new Error(`${id.arn}: expected arn:aws:iam::ACCOUNT:user/NAME or arn:aws:iam::ACCOUNT:role/NAME`);
  const [, account, kind, name] = m as unknown as string[];
  const uniqueId = `${kind === 'user' ? 'AIDA' : 'AROA'}${createHash('sha256').update(id.arn).digest('hex').slice(0, 17).toUpperCase()}`;
  if (kind === 'user') return { accessKey: id.accessKeyId, accountId: account!, callerId: uniqueId, userArn: id.arn, userId: uniqueId };
  const session = id.accessKeyId;
  return {
    accessKey: id.accessKeyId,
    accountId: account!,
    callerId: `${uniqueId}:${session}`,
    userArn: `arn:aws:sts::${account}:assumed-role/${name}/${session}`,
    userId: `${uniqueId}:${session}`,
  };
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
