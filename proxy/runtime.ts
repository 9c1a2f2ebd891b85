import type { Config } from './config.js';
import type { Logger } from './log.js';
import { Resolver } from './resolver/resolver.js';
import { ExactTableService } from './tables/exact.js';
import type { TableService } from './tables/table-service.js';
import { HttpUpstream } from './upstream/client.js';
import { RequestSigner } from './upstream/signer.js';

/** The shared lookup stack of one proxy process: upstream client, resolver, table services. */
export interface Runtime {
  resolver: Resolver;
  tables: TableService;
  close(): Promise<void>;
}

export function createRuntime(config: Config, log: Logger): Runtime {
  const upstream = new HttpUpstream(config.upstream, new RequestSigner(config.upstream.region));
  const resolver = new Resolver(config, upstream, log);
  const tables = new ExactTableService(resolver);
  return { resolver, tables, close: () => resolver.close() };
}
