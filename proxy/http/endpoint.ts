// One function endpoint as a value: its URL, the region its requests are
// signed for, its own connection pool (undici), and listeners told the
// outcome and time of every call made to it (for latency averages,
// breakers, metrics). Several endpoints (regions, replicas) are several
// values; a call never picks one by itself. The HTTP library loads with the
// first call: a table process never asked anything does not load it.

import type { ConnectionPool } from './connection-pool.js';
import type { CallFailure } from './call-error.js';
import type { RequestSigner } from './signer.js';

export interface EndpointOptions {
  /** An origin (scheme://host[:port]); requests name their path. */
  url: string;
  signer: RequestSigner;
  /** Most connections to it. */
  connections: number;
  keepAliveMs?: number;
  /** Longest TCP/TLS connect (it counts against the call's own time limit too). */
  connectTimeoutMs: number;
}

export interface CallTiming {
  endpoint: Endpoint;
  path: string;
  outcome: 'ok' | CallFailure;
  /** From the start of the call (signing included) to its outcome. */
  ms: number;
  /** From the start of the call to the response's status line, when one came. */
  statusMs?: number;
  /** Bytes of the answer's body read, when one was. */
  bytes?: number;
}

export class Endpoint {
  readonly url: URL;
  readonly signer: RequestSigner;
  private pool: Promise<ConnectionPool> | undefined;
  private readonly listeners = new Set<(t: CallTiming) => void>();

  constructor(private readonly o: EndpointOptions) {
    this.url = new URL(o.url);
    this.signer = o.signer;
  }

  /** Its connection pool (made at the first call). */
  dispatcher(): Promise<ConnectionPool> {
    this.pool ??= import('./connection-pool.js').then(({ createConnectionPool }) =>
      createConnectionPool(this.url.origin, {
        connections: this.o.connections,
        ...(this.o.keepAliveMs !== undefined && { keepAliveTimeout: this.o.keepAliveMs, keepAliveMaxTimeout: this.o.keepAliveMs }),
        connect: { timeout: this.o.connectTimeoutMs },
      }),
    );
    return this.pool;
  }

  /** Calls `listener` after every call to this endpoint; returns the function that stops it. */
  onCall(listener: (t: CallTiming) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** For the call code: tells the listeners. */
  report(t: CallTiming): void {
    for (const l of this.listeners) l(t);
  }

  async close(): Promise<void> {
    if (this.pool) await (await this.pool).destroy();
  }
}
