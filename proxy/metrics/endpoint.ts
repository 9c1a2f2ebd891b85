// The metrics endpoint: GET /metrics (Prometheus text format) and
// GET /metrics.json (the same figures as JSON, read by `cloudtable status`).
// Opt-in, on loopback unless an address says otherwise; a failure to listen
// is logged and leaves the proxy serving its MTA.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from '../log.js';
import type { MetricsAddress } from '../addresses/metrics-address.js';
import type { ProxyMetrics } from './proxy-metrics.js';

export interface MetricsEndpoint {
  /** The URL it listens on, once listening; undefined if it could not listen. */
  readonly listening: Promise<string | undefined>;
  close(): Promise<void>;
}

/** Scrapers are few; anything beyond this is not one. */
const MAX_CONNECTIONS = 32;

/** Serves a registry: the proxy's metrics, or the local backend's billing counts. */
export function serveMetrics(metrics: { readonly registry: Registry }, at: MetricsAddress, log: Logger): MetricsEndpoint {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const body =
      path === '/metrics'
        ? metrics.registry.metrics().then((text) => ({ type: metrics.registry.contentType, text }))
        : path === '/metrics.json'
          ? metrics.registry.getMetricsAsJSON().then((json) => ({ type: 'application/json', text: JSON.stringify(json) }))
          : undefined;
    if (!body) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('GET /metrics or /metrics.json\n');
      return;
    }
    body.then(
      ({ type, text }) => res.writeHead(200, { 'content-type': type }).end(req.method === 'HEAD' ? undefined : text),
      (err: unknown) => {
        log.error({ err: String(err) }, 'metrics collection failed');
        res.writeHead(500).end();
      },
    );
  });
  server.maxConnections = MAX_CONNECTIONS;
  server.headersTimeout = 5000;
  server.requestTimeout = 10_000;
  const listening = new Promise<string | undefined>((resolve) => {
    server.once('error', (err) => {
      log.error({ host: at.host, port: at.port, err: err.message }, 'metrics endpoint cannot listen: lookups go on without it');
      resolve(undefined);
    });
    server.listen(at.port, at.host, () => {
      const a = server.address() as AddressInfo;
      const url = `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
      log.info({ url: `${url}/metrics` }, 'metrics endpoint listening');
      resolve(url);
    });
  });
  // Never what keeps the process alive: smtpd mode exits on stdin EOF.
  server.unref();
  return {
    listening,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
