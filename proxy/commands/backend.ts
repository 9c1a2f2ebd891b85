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
import { forgetLocalBackend, recordLocalBackend } from '../http/local-backend-file.js';
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
  /** Every URL it answers on (one per region). */
  let urls: string[];
  /** What the home region's functions would be billed (the other regions' readers are not metered). */
  let meter: BillingMeter;
  if ((flags.regions ?? 1) > 1) {
    const cloud = await startRegions({ ...common, regions: flags.regions!, delay: { minMs: 0, maxMs: flags.replicationMs ?? 1000 } });
    backend = { url: cloud.home.url, close: () => cloud.close() };
    urls = cloud.regions.map((r) => r.url);
    meter = cloud.home.meter;
    for (const r of cloud.regions) {
      log.info({ region: r.name, url: r.url }, 'region listening');
      process.stdout.write(`region ${r.name} on ${r.url}${r.name === 'local-1' ? ' (home: reader and admin)' : ' (reader over a replica)'}\n`);
    }
  } else {
    const single = await startBackend(common);
    backend = single;
    urls = [single.url];
    meter = single.meter;
  }
  const metrics = flags.metrics !== undefined ? serveMetrics({ registry: billingRegistry(meter) }, parseMetricsAddress(flags.metrics), log) : undefined;
  // The file is up to date before the URL is printed: whoever waits for that line can sign.
  // The user's own pair is theirs to pass on; a generated pair the file still names for these URLs would be refused.
  const file = generated ? recordLocalBackend(urls, credentials) : (forgetLocalBackend(urls), undefined);
  log.info({ url: backend.url, storage: flags.data ?? 'memory' }, 'backend listening');
  process.stdout.write(`cloudtable backend on ${backend.url} (${flags.data ? `data in ${flags.data}` : 'in memory'})\n`);
  if (file !== undefined) {
    process.stdout.write(
      `Requests must be SigV4-signed with the generated key pair ${credentials.accessKeyId}, written to ${file} (readable by you only):\n` +
        `the cloudtable commands you run sign with it when AWS_ACCESS_KEY_ID is not set\n` +
        `(set CLOUDTABLE_LOCAL_ACCESS_KEY_ID / CLOUDTABLE_LOCAL_SECRET_ACCESS_KEY or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY to choose the pair)\n`,
    );
  }
  await untilSignal();
  log.info('stopping');
  await metrics?.close();
  await backend.close();
  log.flush();
}
