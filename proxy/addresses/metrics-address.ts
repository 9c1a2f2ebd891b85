// Where the metrics endpoint listens; parsed here so that the configuration
// can validate it without loading the endpoint.

export interface MetricsAddress {
  host: string;
  port: number;
}

export const DEFAULT_METRICS_HOST = '127.0.0.1';

/** `PORT`, `HOST:PORT` or `[IPV6]:PORT`; a bare port listens on loopback. Throws a message on anything else. */
export function parseMetricsAddress(text: string): MetricsAddress {
  const m = /^(?:(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]+)):)?(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`${JSON.stringify(text)} is not PORT, HOST:PORT or [IPV6]:PORT`);
  return { host: m[1] ?? m[2] ?? DEFAULT_METRICS_HOST, port };
}
