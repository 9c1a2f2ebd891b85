import { defaultConfig, loadConfigFile, metricsAddress, type Config, type LogLevel } from '../config.js';
import { createLogger } from '../log.js';
import { startProxyMetrics } from '../metrics/endpoint.js';
import { createRuntime } from '../runtime.js';
import { runSmtpdTable } from '../smtpd/server.js';

export interface SmtpdFlags {
  upstream?: string;
  table?: string;
  metrics?: string;
  logLevel?: LogLevel;
}

/** Applies command-line flags on top of the file configuration. */
export function withFlags(config: Config, flags: SmtpdFlags): Config {
  if (flags.upstream) config.upstream.url = new URL(flags.upstream).origin;
  if (flags.table) config.smtpd.table = flags.table;
  if (flags.metrics) config.metrics.listen = metricsAddress(flags.metrics, '--metrics');
  if (flags.logLevel) config.log.level = flags.logLevel;
  return config;
}

export async function smtpdCommand(configPath: string | undefined, flags: SmtpdFlags): Promise<never> {
  const config = withFlags(configPath ? loadConfigFile(configPath) : defaultConfig(), flags);
  const log = createLogger(config.log.level, 'cloudtable-smtpd');
  const { metrics } = startProxyMetrics(config, log);
  const runtime = createRuntime(config, log, undefined, metrics);
  await runSmtpdTable({
    input: process.stdin,
    output: process.stdout,
    tables: runtime.tables,
    log,
    services: config.smtpd.services,
    ...(config.smtpd.table !== undefined && { table: config.smtpd.table }),
  });
  // stdin EOF: smtpd is gone. Whatever is in flight has nobody to answer to.
  log.info('stdin closed: exiting');
  log.flush();
  process.exit(0);
}
