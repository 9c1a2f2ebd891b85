// Misbehaving upstreams for fault tests. All bind 127.0.0.1 on an ephemeral
// port and close every connection when closed.

import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

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
  const p = await listen(server, port);
  return {
    url: `http://127.0.0.1:${p}`,
    port: p,
    get hits() {
      return hits;
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
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
  const p = await listen(server as unknown as Server, port);
  return {
    url: `http://127.0.0.1:${p}`,
    port: p,
    get hits() {
      return hits;
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
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
