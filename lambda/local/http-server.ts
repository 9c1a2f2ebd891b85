// Serves Function URL handlers over plain HTTP on this host: a request
// becomes the payload-v2 event Lambda would receive, after the SigV4 check
// AWS would make, with the signer's principal in the request context as AWS
// fills it. The handler code is the same one deployed to Lambda. A request
// is authenticated from its headers before its body is read, so unsigned
// requests cost no memory however large their bodies.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CONTRACT_VERSION, LIMITS } from '../../common/contract/lookup.js';
import type { FunctionUrlEvent, FunctionUrlHandler } from '../function-url.js';
import { bodyMatches, LOCAL_ACCOUNT, SigV4Verifier, type LocalCredentials, type LocalIdentity } from './sigv4-verify.js';

export interface Mount {
  /** Longest matching prefix wins. */
  prefix: string;
  handler: FunctionUrlHandler;
  /** Largest body read for this mount (default: the server's maxBodyBytes). */
  maxBodyBytes?: number;
}

export interface FunctionUrlServerOptions {
  mounts: Mount[];
  /** One key pair, standing for the local IAM user LOCAL_USER_ARN. */
  credentials: LocalCredentials;
  /** Further key pairs, each with the principal it signs as. */
  identities?: LocalIdentity[];
  /** The region signatures must be scoped to (default us-east-1, the proxy's default). */
  region?: string;
  host?: string;
  port?: number;
  maxBodyBytes?: number;
  onError?: (err: unknown) => void;
}

export interface RunningServer {
  server: Server;
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Longest close() waits for invocations in progress (a handler's own calls time out well before). */
const CLOSE_WAIT_MS = 10_000;

/** Resolves once every promise of `pending` has settled, or after `ms`. */
async function settled(pending: Iterable<Promise<void>>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.allSettled(pending), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/** The principal of the single local key pair (`credentials`). */
export const LOCAL_USER_ARN = `arn:aws:iam::${LOCAL_ACCOUNT}:user/cloudtable-local`;

export const DEFAULT_LOCAL_REGION = 'us-east-1';

export async function serveFunctionUrl(opts: FunctionUrlServerOptions): Promise<RunningServer> {
  const mounts = [...opts.mounts].sort((a, b) => b.prefix.length - a.prefix.length);
  const maxBody = opts.maxBodyBytes ?? LIMITS.maxBodyBytes;
  let seq = 0;
  let ownHost: (host: string) => boolean = () => false;
  const verifier = new SigV4Verifier({
    identities: [{ ...opts.credentials, arn: LOCAL_USER_ARN }, ...(opts.identities ?? [])],
    region: opts.region ?? DEFAULT_LOCAL_REGION,
    isOwnHost: (host) => ownHost(host),
  });

  /** Invocations in progress, which close() lets finish. */
  const inFlight = new Set<Promise<void>>();
  const server = createServer((req, res) => {
    const invocation = handle(req, res).catch((err) => {
      opts.onError?.(err);
      if (!res.headersSent) reply(res, 500, { v: CONTRACT_VERSION, error: 'internal', message: 'internal error' });
      else res.destroy();
    });
    inFlight.add(invocation);
    void invocation.finally(() => inFlight.delete(invocation));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://local');
    const mount = mounts.find((m) => url.pathname.startsWith(m.prefix));
    const limit = mount?.maxBodyBytes ?? maxBody;
    // Nothing of the body flows while the headers are checked, whoever else listens (readBody resumes).
    req.pause();
    const headers = lowerHeaders(req);
    // As AWS: authenticated on the headers first; the body is not read for a refusal.
    const verified = await verifier.verifyHeaders({ method: req.method ?? 'GET', path: url.pathname, query: url.search.slice(1), headers });
    if ('refusal' in verified) {
      reply(res, 403, { v: CONTRACT_VERSION, error: 'forbidden', message: verified.refusal }, true);
      return;
    }
    if (Number(headers['content-length'] ?? 0) > limit) {
      reply(res, 413, { v: CONTRACT_VERSION, error: 'body-too-large', message: `body larger than ${limit} bytes` }, true);
      return;
    }
    const body = await readBody(req, limit);
    if (body === undefined) {
      reply(res, 413, { v: CONTRACT_VERSION, error: 'body-too-large', message: `body larger than ${limit} bytes` }, true);
      return;
    }
    if (!bodyMatches(body, verified.bodySha256)) {
      reply(res, 403, { v: CONTRACT_VERSION, error: 'forbidden', message: 'body does not match x-amz-content-sha256' });
      return;
    }
    if (!mount) {
      reply(res, 404, { v: CONTRACT_VERSION, error: 'no-route', message: `no route ${url.pathname}` });
      return;
    }
    const event: FunctionUrlEvent = {
      version: '2.0',
      rawPath: url.pathname,
      rawQueryString: url.search.slice(1),
      headers,
      body: body.toString('base64'),
      isBase64Encoded: true,
      requestContext: {
        http: { method: req.method ?? 'GET', path: url.pathname, sourceIp: req.socket.remoteAddress ?? '' },
        requestId: `local-${++seq}`,
        authorizer: { iam: verified.principal },
      },
    };
    const result = await mount.handler(event);
    res.writeHead(result.statusCode, result.headers);
    res.end(result.body);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port, address } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  ownHost = ownHostCheck(address, port);
  return {
    server,
    port,
    url: `http://${host}:${port}`,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      // As Lambda's would, the invocations in progress finish (their callers are gone) before close() returns, so
      // whoever closes the engine next closes it under no one: dynalite throws, uncaught, from an operation still
      // running when its database closes. None starts now: the server has closed every connection.
      await settled(inFlight, CLOSE_WAIT_MS);
    },
  };
}

/**
 * The Host values that name this server, as a Function URL accepts only its
 * own hostname: the bound address with its port, and localhost on a
 * loopback address; on a wildcard address, any host with the right port.
 */
function ownHostCheck(address: string, port: number): (host: string) => boolean {
  const withPort = (h: string): string => `${h.includes(':') ? `[${h}]` : h}:${port}`.toLowerCase();
  if (address === '0.0.0.0' || address === '::') return (host) => host.endsWith(`:${port}`);
  const names = new Set([withPort(address)]);
  if (address === '::1' || address.startsWith('127.')) names.add(withPort('localhost'));
  return (host) => names.has(host.toLowerCase());
}

function lowerHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
  }
  return out;
}

/** Reads the body; undefined when it exceeds `max` (the rest is not buffered). */
function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > max) {
        over = true;
        chunks.length = 0;
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!over) resolve(Buffer.concat(chunks));
    });
    req.on('error', reject);
    req.resume();
  });
}

function reply(res: ServerResponse, status: number, body: unknown, close = false): void {
  res.writeHead(status, { 'content-type': 'application/json', ...(close && { connection: 'close' }) });
  res.end(JSON.stringify(body));
}
