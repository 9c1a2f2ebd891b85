// A TCP relay between a client and a real HTTP server that loses what a
// test tells it to: the reply to a chosen request (the server has received
// and answered it, then the client's connection is closed without a byte of
// the answer), or the request itself (closed before the server sees it).
// It can also hold a chosen request until the test has done something (a
// table swap between two pages of a listing).
// Requests are recognised by their request line (`POST /v1/admin/commit`),
// which is enough for clients that send one request at a time per
// connection, as undici does without pipelining.

import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

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
  const to = new URL(target);
  const rules: Array<{ path: string; what: Loss; left: number }> = [];
  const lost: string[] = [];
  const hooks = new Map<string, { fn: (n: number) => Promise<void>; n: number }>();
  const sockets = new Set<Socket>();

  const server: Server = createServer((client) => {
    const upstream = connect(Number(to.port), to.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    let dropReply: string | undefined;
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    let queue = Promise.resolve();
    client.on('data', (chunk: Buffer) => {
      const line = /^POST (\S+) HTTP\/1\.1\r\n/.exec(chunk.toString('latin1'));
      const hook = line ? hooks.get(line[1]!) : undefined;
      if (hook) {
        // Later chunks wait behind the hook, in order.
        const n = ++hook.n;
        queue = queue.then(() => hook.fn(n));
      }
      void queue.then(() => pass(chunk, line));
    });
    const pass = (chunk: Buffer, line: RegExpExecArray | null): void => {
      const rule = line ? rules.find((r) => r.path === line[1] && r.left > 0) : undefined;
      if (rule) {
        rule.left--;
        lost.push(`${rule.what} ${rule.path}`);
        if (rule.what === 'request') return end();
        dropReply = rule.path;
      }
      upstream.write(chunk);
    };
    upstream.on('data', (chunk: Buffer) => {
      if (dropReply !== undefined) return end();
      client.write(chunk);
    });
    client.on('close', end);
    upstream.on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    lose: (path, what, times = 1) => void rules.push({ path, what, left: times }),
    before: (path, fn) => void hooks.set(path, { fn, n: 0 }),
    lost,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
