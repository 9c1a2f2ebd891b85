// Serves Function URL handlers over plain HTTP on this host: a request
// becomes the payload-v2 event Lambda would receive, after the SigV4 check
// AWS would make. The handler code is the same one deployed to Lambda.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CONTRACT_VERSION, LIMITS } from '../../common/contract/lookup.js';
import type { FunctionUrlEvent, FunctionUrlHandler } from '../function-url.js';
import { verifySigV4, type LocalCredentials } from './sigv4-verify.js';

export interface Mount {
  /** Longest matching prefix wins. */
  prefix: string;
  handler: FunctionUrlHandler;
  /** Largest body read for this mount (default: the server's maxBodyBytes). */
  maxBodyBytes?: number;
}

export interface FunctionUrlServerOptions {
  mounts: Mount[];
  credentials: LocalCredentials;
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

export async function serveFunctionUrl(opts: FunctionUrlServerOptions): Promise<RunningServer> {
  const mounts = [...opts.mounts].sort((a, b) => b.prefix.length - a.prefix.length);
  const maxBody = opts.maxBodyBytes ?? LIMITS.maxBodyBytes;
  let seq = 0;

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      opts.onError?.(err);
      if (!res.headersSent) reply(res, 500, { v: CONTRACT_VERSION, error: 'internal', message: 'internal error' });
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://local');
    const mount = mounts.find((m) => url.pathname.startsWith(m.prefix));
    const limit = mount?.maxBodyBytes ?? maxBody;
    const body = await readBody(req, limit);
    if (body === undefined) {
      reply(res, 413, { v: CONTRACT_VERSION, error: 'body-too-large', message: `body larger than ${limit} bytes` }, true);
      return;
    }
    const headers = lowerHeaders(req);
    const refusal = await verifySigV4(
      { method: req.method ?? 'GET', path: url.pathname, query: url.search.slice(1), headers, body },
      opts.credentials,
    );
    if (refusal) {
      reply(res, 403, { v: CONTRACT_VERSION, error: 'forbidden', message: refusal });
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
      requestContext: { http: { method: req.method ?? 'GET', path: url.pathname, sourceIp: req.socket.remoteAddress ?? '' }, requestId: `local-${++seq}` },
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
  return {
    server,
    port,
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
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
  });
}

function reply(res: ServerResponse, status: number, body: unknown, close = false): void {
  res.writeHead(status, { 'content-type': 'application/json', ...(close && { connection: 'close' }) });
  res.end(JSON.stringify(body));
}
