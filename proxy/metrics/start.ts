// The metrics of a proxy process and their endpoint, when `metrics.listen`
// is set: created once, they outlive runtimes rebuilt on reload. The
// metrics library loads only then: without an endpoint nothing reads them.

import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { ProxyMetrics } from './proxy-metrics.js';

export interface ProxyMonitoring {
  metrics?: ProxyMetrics;
  close(): Promise<void>;
}

export async function startProxyMetrics(config: Config, log: Logger): Promise<ProxyMonitoring> {
  const listen = config.metrics.listen;
  if (!listen) return { close: () => Promise.resolve() };
  const [{ ProxyMetrics }, { serveMetrics }] = await Promise.all([import('./proxy-metrics.js'), import('./endpoint.js')]);
  const metrics = new ProxyMetrics();
  const endpoint = serveMetrics(metrics, listen, log);
  return { metrics, close: () => endpoint.close() };
}
