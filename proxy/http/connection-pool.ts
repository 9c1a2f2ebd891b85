// An undici Pool and its request() — the only parts of undici the proxy
// uses — loaded without the rest of the package. undici's index loads all
// of it (fetch, WebSocket, EventSource, the mock and cache layers, about
// 110 modules): 18 MiB resident in a fresh Node process, against 9 MiB for
// the pool and its request API alone, in every process that has called the
// function (each smtpd table process, the socketmap server). undici 7 has
// no "exports" map, so its files can be loaded by path; the version is
// pinned in package.json, and should a later one move them, the package's
// index is loaded instead (same classes, same behaviour, more memory).

import { createRequire } from 'node:module';
import type { Dispatcher, Pool } from 'undici';

/** What a call needs of a pool. */
export interface ConnectionPool {
  request(options: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData>;
  destroy(): Promise<void>;
}

type RequestFn = (this: Dispatcher, options: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;

interface Parts {
  Pool: typeof Pool;
  request: RequestFn;
}

let parts: Parts | undefined;

function load(): Parts {
  if (parts) return parts;
  const require = createRequire(import.meta.url);
  try {
    parts = { Pool: require('undici/lib/dispatcher/pool.js') as typeof Pool, request: require('undici/lib/api/api-request.js') as RequestFn };
  } catch {
    const undici = require('undici') as typeof import('undici');
    parts = { Pool: undici.Pool, request: undici.Pool.prototype.request as RequestFn };
  }
  return parts;
}

/** A pool of connections to `origin`. */
export function createConnectionPool(origin: string, options: Pool.Options): ConnectionPool {
  const { Pool: PoolClass, request } = load();
  const pool = new PoolClass(origin, options);
  return {
    request: (o) => request.call(pool, o),
    destroy: () => pool.destroy(),
  };
}
