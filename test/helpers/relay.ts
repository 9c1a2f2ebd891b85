// A relay between a client and a real backend that loses what a test tells
// it to: the reply to a chosen request (the backend has received and
// answered it, then the client's connection is closed without a byte of
// the answer), or the request itself (closed before the backend sees it).
// It can also hold a chosen request until the test has done something (a
// table swap between two pages of a listing). Requests are passed on
// re-signed for the backend's own Host, as a signing proxy would (the
// backend, like a Function URL, takes only signatures made for its Host).

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { forwardSigned } from './fault-servers.js';

export type Loss = 'reply' | 'request';

export interface Relay {
  url: string;
  /** Loses the next `times` replies (or requests) of `POST path`. */
  lose(path: string, what: Loss, times?: number): void;
  /** Runs `fn` (with the request's number, from 1) before each `POST path` is passed on. */
  before(path: string, fn: (n: number) => Promise<void>): void;
  /** Requests and replies lost so far, as `reply /v1/admin/commit`. */
  readonly lost: string[];
  close(): Promise<void>;
}

export async function startRelay(target: string): Promise<Relay> {
  const rules: Array<{ path: string; what: Loss; left: number }> = [];
  const hooks = new Map<string, { fn: (n: number) => Promise<void>; n: number }>();
  const lost: string[] = [];

  const relay = async (req: IncomingMessage, body: string, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://relay').pathname;
    const hook = hooks.get(path);
    if (hook) await hook.fn(++hook.n);
    const rule = rules.find((r) => r.path === path && r.left > 0);
    if (rule) {
      rule.left--;
      lost.push(`${rule.what} ${rule.path}`);
      if (rule.what === 'request') return void res.destroy();
    }
    let answer: { status: number; text: string };
    try {
      answer = await forwardSigned(target, req, body);
    } catch {
      return void res.destroy();
    }
    if (rule) return void res.destroy();
    res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.text);
  };

  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => void relay(req, body, res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    lose: (path, what, times = 1) => void rules.push({ path, what, left: times }),
    before: (path, fn) => void hooks.set(path, { fn, n: 0 }),
    lost,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
