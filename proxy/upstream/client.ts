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
} from '../../common/contract/lookup.js';
import type { UpstreamConfig } from '../config.js';
import type { RequestSigner } from './signer.js';

/** `credentials`: no credentials to sign with (the provider chain found none, or failed). */
export type UpstreamFailure = 'credentials' | 'network' | 'timeout' | 'http' | 'protocol';

export class UpstreamError extends Error {
  override name = 'UpstreamError';
  constructor(
    readonly kind: UpstreamFailure,
    message: string,
    readonly status?: number,
    /** The function's own error code (`unknown-table`, `bad-request`…), when it sent one. */
    readonly code?: string,
  ) {
    super(message);
  }

  /** The function says the table does not exist: a configuration problem, not an outage. */
  get unknownTable(): boolean {
    return this.code === 'unknown-table';
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
    return this.post(LOOKUP_PATH, request, queries.map((q) => q.key), timeoutMs, (json) => parseLookupResponse(json, table, queries.length));
  }

  async list(what: Listing, table: string, after: string | undefined, timeoutMs: number): Promise<ListResponse> {
    const request: ListRequest = { v: CONTRACT_VERSION, table, ...(after !== undefined && { after }) };
    return this.post(what === 'entries' ? ENTRIES_PATH : PATTERNS_PATH, request, after !== undefined ? [after] : [], timeoutMs, (json) => parseListResponse(json, table));
  }

  /** A signed JSON POST; `parse` of the body of a 200 answer, or an UpstreamError. `keys`: what the request asks about. */
  private async post<T>(path: string, request: unknown, keys: string[], timeoutMs: number, parse: (json: unknown) => T): Promise<T> {
    const body = JSON.stringify(request);
    let headers: Record<string, string>;
    try {
      headers = await this.signer.sign({ method: 'POST', url: this.url, path, body, headers: { 'content-type': 'application/json' } });
    } catch (err) {
      throw new UpstreamError('credentials', `cannot sign the request: ${describe(err)}`);
    }
    const signal = AbortSignal.timeout(timeoutMs);
    let text: string;
    let status: number;
    try {
      // The signal alone keeps the time: undici's own headers and body timers run on a coarse
      // clock (they fired hundreds of ms early under load), so they are off.
      const res = await this.pool.request({ method: 'POST', path, headers, body, signal, headersTimeout: 0, bodyTimeout: 0 });
      status = res.statusCode;
      text = await readLimited(res.body, this.config.maxResponseBytes);
    } catch (err) {
      if (signal.aborted) throw new UpstreamError('timeout', `no answer within ${timeoutMs} ms`);
      throw new UpstreamError('network', describe(err));
    }
    const scrubbed = (msg: string): string => withoutEchoes(msg, headers, keys);
    if (status !== 200) {
      const { code, detail } = functionError(text, scrubbed);
      throw new UpstreamError('http', `HTTP ${status}${detail}`, status, code);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new UpstreamError('protocol', 'response is not valid JSON');
    }
    try {
      return parse(json);
    } catch (err) {
      throw new UpstreamError('protocol', scrubbed((err as Error).message));
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

/**
 * Text from the function goes into errors, and so into logs; it may echo the
 * request, whose keys (an smtpd `auth` key is user:password), signature and
 * session token are for no log. Such text is withheld whole.
 */
function withoutEchoes(text: string, headers: Record<string, string>, keys: string[]): string {
  const secrets = [headers.authorization, headers['x-amz-security-token'], /Signature=([0-9a-f]+)/.exec(headers.authorization ?? '')?.[1]];
  // Keys of a few characters would match ordinary words, and hide nothing.
  const echoes = secrets.some((x) => x && text.includes(x)) || keys.some((k) => k.length >= MIN_ECHO && text.includes(k));
  return echoes ? '(details withheld: they echo the request)' : text;
}

const MIN_ECHO = 4;

/** The function's error code, and its message as `scrub` lets it through. */
/** The error code and message of a function's error answer, as text to follow the status. */
function functionError(text: string, scrub: (msg: string) => string): { code?: string; detail: string } {
  try {
    const j = JSON.parse(text) as { error?: unknown; message?: unknown };
    if (typeof j.error === 'string') {
      const code = /^[\w.-]{1,64}$/.test(j.error) ? j.error : undefined;
      return { ...(code !== undefined && { code }), detail: ` ${code ?? '(unreadable error code)'}${typeof j.message === 'string' ? `: ${scrub(j.message).slice(0, 200)}` : ''}` };
    }
  } catch {
    // not JSON: the status alone says enough
  }
  return { detail: '' };
}

export function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: string }).code;
    return code ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
