// `cloudtable backend`: the cloud functions served on this host (lambda/local/),
// with the key pairs it accepts and the principals they sign as.

import { startBackend } from '../../lambda/local/backend.js';
import { startRegions } from '../../lambda/local/regions.js';
import type { BillingMeter } from '../../lambda/local/billing.js';
import { billingRegistry } from '../../lambda/local/billing-metrics.js';
import { createLogger } from '../log.js';
import { serveMetrics } from '../metrics/endpoint.js';
import { parseMetricsAddress } from '../addresses/metrics-address.js';
import { untilSignal } from '../process/until-signal.js';
import { localCredentials } from './local-credentials.js';
import { loadLocalIdentities } from './local-identities.js';

export interface BackendFlags {
  host: string;
  port: number;
  data?: string;
  memory?: boolean;
  /** Several regions (lambda/local/regions.ts): home on --port, the others on the next ports. */
  regions?: number;
  replicationMs?: number;
  region: string;
  identities?: string;
  /** Where to serve the billing counts as Prometheus metrics. */
  metrics?: string;
}

export async function backendCommand(flags: BackendFlags): Promise<void> {
  const log = createLogger('info', 'cloudtable-backend');
  if (flags.data && flags.memory) throw new Error('--data and --memory exclude each other');
  const { credentials, generated } = localCredentials();
  const more = flags.identities ? loadLocalIdentities(flags.identities) : { identities: [] };
  const common = {
    credentials,
    identities: more.identities,
    ...(more.readAccess && { readAccess: more.readAccess }),
    region: flags.region,
    host: flags.host,
    port: flags.port,
    ...(flags.data && { dataDir: flags.data }),
    onError: (err: unknown) => log.error({ err: String(err) }, 'handler failed'),
    adminLog: log,
  };
  let backend: { url: string; close(): Promise<void> };
  /** What the home region's functions would be billed (the other regions' readers are not metered). */
  let meter: BillingMeter;
  if ((flags.regions ?? 1) > 1) {
    const cloud = await startRegions({ ...common, regions: flags.regions!, delay: { minMs: 0, maxMs: flags.replicationMs ?? 1000 } });
    backend = { url: cloud.home.url, close: () => cloud.close() };
    meter = cloud.home.meter;
    for (const r of cloud.regions) {
      log.info({ region: r.name, url: r.url }, 'region listening');
      process.stdout.write(`region ${r.name} on ${r.url}${r.name === 'local-1' ? ' (home: reader and admin)' : ' (reader over a replica)'}\n`);
    }
  } else {
    const single = await startBackend(common);
    backend = single;
    meter = single.meter;
  }
  const metrics = flags.metrics !== undefined ? serveMetrics({ registry: billingRegistry(meter) }, parseMetricsAddress(flags.metrics), log) : undefined;
  log.info({ url: backend.url, storage: flags.data ?? 'memory' }, 'backend listening');
  process.stdout.write(`cloudtable backend on ${backend.url} (${flags.data ? `data in ${flags.data}` : 'in memory'})\n`);
  if (generated) {
    process.stdout.write(
      `Requests must be SigV4-signed with these generated credentials:\n` +
        `  export AWS_ACCESS_KEY_ID=${credentials.accessKeyId} AWS_SECRET_ACCESS_KEY=${credentials.secretAccessKey}\n` +
        `(set CLOUDTABLE_LOCAL_ACCESS_KEY_ID / CLOUDTABLE_LOCAL_SECRET_ACCESS_KEY or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY to choose them)\n`,
    );
  }
  await untilSignal();
  log.info('stopping');
  await metrics?.close();
  await backend.close();
  log.flush();
}
