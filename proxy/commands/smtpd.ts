import { loadConfig, type Config, type LogLevel } from '../config.js';
import { createLogger } from '../log.js';
import { startProxyMetrics } from '../metrics/endpoint.js';
import { createRuntime } from '../runtime.js';
import { runSmtpdTable } from '../smtpd/server.js';
import { configWarnings, logWarnings } from './startup-warnings.js';

export interface SmtpdFlags {
  upstream?: string;
  table?: string;
  metrics?: string;
  logLevel?: LogLevel;
}

/** The file configuration (when given) with the command-line flags on top. */
export function smtpdConfig(configPath: string | undefined, flags: SmtpdFlags): Config {
  return loadConfig(configPath, { '--upstream': flags.upstream, '--table': flags.table, '--metrics': flags.metrics, '--log-level': flags.logLevel });
}

export async function smtpdCommand(configPath: string | undefined, flags: SmtpdFlags): Promise<never> {
  const config = smtpdConfig(configPath, flags);
  const log = createLogger(config.log.level, 'cloudtable-smtpd');
  logWarnings(log, configWarnings(config, configPath));
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
