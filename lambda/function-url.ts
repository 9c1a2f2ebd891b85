// The slice of the Lambda Function URL event (payload format 2.0) that
// cloudtable's handlers read, and helpers to answer it. Declared here rather
// than pulling in @types/aws-lambda for three fields.

import { CONTRACT_VERSION, ContractError, LIMITS, type ErrorResponse } from '../common/contract/lookup.js';

export interface FunctionUrlEvent {
  version: '2.0';
  rawPath: string;
  rawQueryString?: string;
  headers: Record<string, string | undefined>;
  body?: string;
  isBase64Encoded: boolean;
  requestContext: {
    http: { method: string; path: string; sourceIp?: string };
    requestId?: string;
    /** With AWS_IAM auth: who signed the request, as AWS verified it. */
    authorizer?: { iam?: IamPrincipal };
  };
}

/** The IAM principal of a signed request, as the Function URL's request context gives it (payload v2, `authorizer.iam`). */
export interface IamPrincipal {
  accessKey: string;
  accountId: string;
  /** `AIDA…` for a user, `AROA…:SESSION` for an assumed role. */
  callerId: string;
  /** `arn:aws:iam::ACCOUNT:user/NAME` or `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`. */
  userArn: string;
  userId: string;
}

export interface FunctionUrlResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

export type FunctionUrlHandler = (event: FunctionUrlEvent) => Promise<FunctionUrlResult>;

export function json(statusCode: number, body: unknown): FunctionUrlResult {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

export function errorResult(err: ContractError): FunctionUrlResult {
  const body: ErrorResponse = { v: CONTRACT_VERSION, error: err.code, message: err.message };
  return json(err.status, body);
}

/** Decodes and parses a JSON body, enforcing the size limit before parsing. */
export function readJsonBody(event: FunctionUrlEvent, maxBytes: number = LIMITS.maxBodyBytes): unknown {
  const raw = event.body ?? '';
  const bytes = event.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
  if (bytes.length > maxBytes) throw new ContractError(413, 'body-too-large', `body of ${bytes.length} bytes; at most ${maxBytes}`);
  if (bytes.length === 0) throw new ContractError(400, 'bad-request', 'empty body');
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new ContractError(400, 'bad-json', 'body is not valid JSON');
  }
}

/** Routes by method and path; anything else is a clear 404/405. */
export function route(event: FunctionUrlEvent, routes: Record<string, FunctionUrlHandler>): Promise<FunctionUrlResult> {
  const handler = routes[event.rawPath];
  if (!handler) return Promise.resolve(errorResult(new ContractError(404, 'no-route', `no route ${event.rawPath}`)));
  if (event.requestContext.http.method !== 'POST') {
    return Promise.resolve(errorResult(new ContractError(405, 'method-not-allowed', 'use POST')));
  }
  return handler(event);
}
