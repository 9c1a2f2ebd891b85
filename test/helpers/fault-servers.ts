// Misbehaving upstreams for fault tests. All bind 127.0.0.1 on an ephemeral
// port and close every connection when closed.

import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { request as undiciRequest } from 'undici';
import { RequestSigner } from '../../proxy/http/signer.js';
import { TEST_CREDENTIALS } from './backend.js';

export interface FaultServer {
  url: string;
  port: number;
  /** Requests (or connections, for the black hole) seen so far. */
  readonly hits: number;
  close(): Promise<void>;
}

async function listen(server: Server, port = 0): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

/** Accepts connections and never answers. */
export async function blackHole(port?: number): Promise<FaultServer> {
  const sockets = new Set<Socket>();
  let hits = 0;
  const server = createTcpServer((s) => {
    hits++;
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  return expose(server, port, () => hits, () => {
    for (const s of sockets) s.destroy();
  });
}

/** An HTTP server answering every request with `handler` (after reading the body). */
export async function httpFault(handler: (req: IncomingMessage, body: string, res: ServerResponse) => void, port?: number): Promise<FaultServer> {
  let hits = 0;
  const server = createHttpServer((req, res) => {
    hits++;
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => handler(req, body, res));
  });
  return expose(server as unknown as Server, port, () => hits, () => server.closeAllConnections());
}

/** Listens on 127.0.0.1 and describes the server; `drop` ends its open connections at close. */
async function expose(server: Server, port: number | undefined, hits: () => number, drop: () => void): Promise<FaultServer> {
  const p = await listen(server, port);
  return {
    url: `http://127.0.0.1:${p}`,
    port: p,
    get hits() {
      return hits();
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        drop();
      }),
  };
}

/** A port on 127.0.0.1 that nothing listens on (connection refused). */
export async function refusedPort(): Promise<number> {
  const s = createTcpServer();
  const p = await listen(s);
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return p;
}

/** What a switchable upstream does with the next request (`refuse`: nothing listens on its port). */
export type UpstreamMode =
  | { kind: 'refuse' }
  /** Reads the request and never answers. */
  | { kind: 'silent' }
  | { kind: 'http'; handle: (req: IncomingMessage, body: string, res: ServerResponse) => void }
  /** Passes the request to a real backend, after `delayMs`. */
  | { kind: 'forward'; to: string; delayMs?: number };

export interface SwitchableUpstream extends FaultServer {
  /** Takes effect for every request from now on, on connections already open too. */
  set(mode: UpstreamMode): Promise<void>;
}

/**
 * One upstream port whose behaviour a test switches between faults and a
 * real backend, so that one proxy process meets fault after fault, and its
 * recovery from each can be timed.
 */
export async function switchableUpstream(initial: UpstreamMode): Promise<SwitchableUpstream> {
  let mode = initial;
  let hits = 0;
  const sockets = new Set<Socket>();
  const http = createHttpServer((req, res) => {
    hits++;
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const m = mode;
      if (m.kind === 'http') m.handle(req, body, res);
      else if (m.kind === 'forward') setTimeout(() => void forward(m.to, req, body, res), m.delayMs ?? 0);
      // silent: never answered; refuse: the connection is being destroyed
    });
  });
  let tcp: Server | undefined;
  const open = async (port: number): Promise<number> => {
    tcp = createTcpServer((s) => {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
      http.emit('connection', s);
    });
    return listen(tcp, port);
  };
  const shut = (): Promise<void> =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      if (!tcp) return resolve();
      tcp.close(() => resolve());
      tcp = undefined;
    });
  const port = await open(0);
  if (initial.kind === 'refuse') await shut();
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get hits() {
      return hits;
    },
    async set(next: UpstreamMode) {
      if (next.kind === 'refuse' && tcp) await shut();
      else if (next.kind !== 'refuse' && !tcp) await open(port);
      mode = next;
    },
    close: shut,
  };
}

/**
 * The request as received, to `to` (a real backend), signed anew for the
 * backend's own host with the test credentials: a backend accepts only a
 * signature made for its Host, as a Function URL does, so a forwarder in
 * between re-signs as a signing proxy would.
 */
export async function forward(to: string, req: IncomingMessage, body: string, res: ServerResponse): Promise<void> {
  try {
    const r = await forwardSigned(to, req, body);
    res.writeHead(r.status, { 'content-type': 'application/json' }).end(r.text);
  } catch {
    res.destroy();
  }
}

/** The backend's answer to the request as received, re-signed for the backend (see forward). */
export async function forwardSigned(to: string, req: IncomingMessage, body: string): Promise<{ status: number; text: string }> {
  const url = new URL(`${to}${req.url}`);
  const headers = await forwardSigner.sign({ method: 'POST', url, path: url.pathname, body, headers: { 'content-type': String(req.headers['content-type'] ?? 'application/json') } });
  const r = await undiciRequest(url, { method: 'POST', headers, body });
  return { status: r.statusCode, text: await r.body.text() };
}

const forwardSigner = new RequestSigner('us-east-1', () => Promise.resolve(TEST_CREDENTIALS));
