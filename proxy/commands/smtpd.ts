// `cloudtable smtpd` (and `table-cloudtable`): one OpenSMTPD proc table on
// stdin/stdout, with its configuration file and flags; exits at stdin EOF.

import type { Service } from '../../common/contract/lookup.js';
import { loadConfig, type Config, type LogLevel, type SmtpdConfig } from '../config.js';
import { createLogger } from '../log.js';
import { startProxyMetrics } from '../metrics/start.js';
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

/**
 * One smtpd `table` line's services and cloud table: its [smtpd.tables.NAME]
 * settings, else the [smtpd] ones; `--table` names the cloud table over both.
 */
export function tableLineSettings(smtpd: SmtpdConfig, name: string | undefined, tableFlag?: string): { services: readonly Service[]; table?: string } {
  const line = name === undefined ? undefined : smtpd.tables[name];
  const table = tableFlag ?? line?.table ?? smtpd.table;
  return { services: line?.services ?? smtpd.services, ...(table !== undefined && { table }) };
}

export async function smtpdCommand(configPath: string | undefined, flags: SmtpdFlags): Promise<never> {
  const config = smtpdConfig(configPath, flags);
  const log = createLogger(config.log.level, 'cloudtable-smtpd');
  logWarnings(log, configWarnings(config, configPath));
  const { metrics } = await startProxyMetrics(config, log);
  const runtime = createRuntime(config, log, undefined, metrics);
  await runSmtpdTable({
    input: process.stdin,
    output: process.stdout,
    tables: runtime.tables,
    log,
    settings: (name) => tableLineSettings(config.smtpd, name, flags.table),
    onReady: () => runtime.frontEndUp(),
  });
  // stdin EOF: smtpd is gone. Whatever is in flight has nobody to answer to.
  log.info('stdin closed: exiting');
  log.flush();
  process.exit(0);
}
