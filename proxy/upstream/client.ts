// The HTTP client of the function: one undici Pool (keep-alive, bounded
// connections), SigV4-signed JSON requests, strict response validation.
// Anything but a well-formed answer to exactly the request sent is an
// UpstreamError: the resolver turns it into `error`, never into "not found".

import { Pool } from 'undici';
import {
  CONTRACT_VERSION,
  ENTRIES_PATH,
  LOOKUP_PATH,
  PATTERNS_PATH,
  parseListResponse,
  parseLookupResponse,
  type ListRequest,
  type ListResponse,
  type LookupQuery,
  type LookupRequest,
  type LookupResponse,
} from '../../lambda/contract.js';
import type { UpstreamConfig } from '../config.js';
import type { RequestSigner } from './signer.js';

export type UpstreamFailure = 'network' | 'timeout' | 'http' | 'protocol';

export class UpstreamError extends Error {
  override name = 'UpstreamError';
  constructor(
    readonly kind: UpstreamFailure,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export type Listing = 'entries' | 'patterns';

export interface Upstream {
  /** Looks up to 100 queries of one table; an empty list asks only for the generation. */
  lookup(table: string, queries: LookupQuery[], timeoutMs: number): Promise<LookupResponse>;
  /** One page of the active generation's entries or pattern entries, after `after`. */
  list(what: Listing, table: string, after: string | undefined, timeoutMs: number): Promise<ListResponse>;
  close(): Promise<void>;
}

export class HttpUpstream implements Upstream {
  private readonly pool: Pool;
  private readonly url: URL;

  constructor(
    private readonly config: UpstreamConfig,
    private readonly signer: RequestSigner,
  ) {
    this.url = new URL(config.url);
    this.pool = new Pool(this.url.origin, {
      connections: config.connections,
      keepAliveTimeout: config.keepAliveMs,
      keepAliveMaxTimeout: config.keepAliveMs,
      connect: { timeout: Math.min(config.deadlineMs, 10_000) },
    });
  }

  async lookup(table: string, queries: LookupQuery[], timeoutMs: number): Promise<LookupResponse> {
    const request: LookupRequest = { v: CONTRACT_VERSION, table, queries };
    const json = await this.post(LOOKUP_PATH, request, timeoutMs);
    try {
      return parseLookupResponse(json, table, queries.length);
    } catch (err) {
      throw new UpstreamError('protocol', (err as Error).message);
    }
  }

  async list(what: Listing, table: string, after: string | undefined, timeoutMs: number): Promise<ListResponse> {
    const request: ListRequest = { v: CONTRACT_VERSION, table, ...(after !== undefined && { after }) };
    const json = await this.post(what === 'entries' ? ENTRIES_PATH : PATTERNS_PATH, request, timeoutMs);
    try {
      return parseListResponse(json, table);
    } catch (err) {
      throw new UpstreamError('protocol', (err as Error).message);
    }
  }

  /** A signed JSON POST; the parsed body of a 200 answer, or an UpstreamError. */
  private async post(path: string, request: unknown, timeoutMs: number): Promise<unknown> {
    const body = JSON.stringify(request);
    const headers = await this.signer.sign({ method: 'POST', url: this.url, path, body, headers: { 'content-type': 'application/json' } });
    const signal = AbortSignal.timeout(timeoutMs);
    let text: string;
    let status: number;
    try {
      const res = await this.pool.request({ method: 'POST', path, headers, body, signal, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
      status = res.statusCode;
      text = await readLimited(res.body, this.config.maxResponseBytes);
    } catch (err) {
      if (signal.aborted) throw new UpstreamError('timeout', `no answer within ${timeoutMs} ms`);
      throw new UpstreamError('network', describe(err));
    }
    if (status !== 200) throw new UpstreamError('http', `HTTP ${status}${errorCode(text)}`, status);
    try {
      return JSON.parse(text);
    } catch {
      throw new UpstreamError('protocol', 'response is not valid JSON');
    }
  }

  close(): Promise<void> {
    return this.pool.destroy();
  }
}

export async function readLimited(body: AsyncIterable<Buffer> & { destroy(err?: Error): unknown }, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > max) {
      body.destroy();
      throw new Error(`response larger than ${max} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function errorCode(text: string): string {
  try {
    const j = JSON.parse(text) as { error?: unknown; message?: unknown };
    if (typeof j.error === 'string') return ` ${j.error}${typeof j.message === 'string' ? `: ${j.message.slice(0, 200)}` : ''}`;
  } catch {
    // not JSON: the status alone says enough
  }
  return '';
}

export function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: string }).code;
    return code ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
