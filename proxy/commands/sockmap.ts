// `cloudtable sockmap`: the socketmap server for Postfix and Sendmail, its
// configuration, reload on SIGHUP and graceful stop.

import { ConfigError, loadConfig, type Config, type LogLevel, type SockmapListenConfig } from '../config.js';
import { createLogger, type Logger } from '../log.js';
import { startProxyMetrics } from '../metrics/start.js';
import type { ProxyMetrics } from '../metrics/proxy-metrics.js';
import { createRuntime, type Runtime } from '../runtime.js';
import { isLocalOnly, parseListenAddress } from '../addresses/listen-address.js';
import type { Dialect } from '../sockmap/dialect.js';
import { takeActivatedFds } from '../sockmap/listeners.js';
import { SockmapServer, sockmapSettings } from '../sockmap/server.js';
import { groupId, userId } from '../sockmap/unix-ids.js';
import { CommandError, EX } from './exit-codes.js';
import { untilSignal } from '../process/until-signal.js';
import { configWarnings, logWarnings, sockmapWarnings } from './startup-warnings.js';

export interface SockmapFlags {
  listen?: string[];
  dialect?: Dialect;
  /** Permissions (cli.ts parsed the octal), owner and group of the --listen unix: sockets. */
  socketMode?: number;
  socketOwner?: string;
  socketGroup?: string;
  config?: string;
  upstream?: string;
  metrics?: string;
  logLevel?: LogLevel;
  anyTable?: boolean;
  anyTableInet?: boolean;
}

/** The file configuration with the flags on top: `--listen` replaces the configured listeners. */
export function sockmapConfig(flags: SockmapFlags): Config {
  if (flags.dialect && !flags.listen?.length) {
    throw new ConfigError('--dialect applies to --listen addresses; give the dialect of configured listeners in the configuration');
  }
  const socket = socketFlags(flags);
  const listen = flags.listen?.length ? flags.listen.map((address) => ({ address, dialect: flags.dialect ?? 'postfix', ...(address.startsWith('unix:') && socket) })) : undefined;
  return loadConfig(flags.config, { '--upstream': flags.upstream, '--metrics': flags.metrics, '--log-level': flags.logLevel, '--listen': listen, '--any-table': flags.anyTable, '--any-table-inet': flags.anyTableInet });
}

/**
 * --socket-mode, --socket-owner, --socket-group: the `mode`, `owner` and
 * `group` keys of each --listen unix: socket. A user or group that does not
 * exist is refused here, naming the flag, rather than when binding.
 */
function socketFlags(flags: SockmapFlags): Partial<Pick<SockmapListenConfig, 'mode' | 'owner' | 'group'>> {
  const given = flags.socketMode !== undefined || flags.socketOwner !== undefined || flags.socketGroup !== undefined;
  if (given && !flags.listen?.some((a) => a.startsWith('unix:'))) {
    throw new CommandError(EX.USAGE, '--socket-mode, --socket-owner and --socket-group apply to --listen unix: addresses; give those of configured listeners in [[sockmap.listen]]');
  }
  return {
    ...(flags.socketMode !== undefined && { mode: flags.socketMode }),
    ...(flags.socketOwner !== undefined && { owner: knownId('--socket-owner', flags.socketOwner, userId) }),
    ...(flags.socketGroup !== undefined && { group: knownId('--socket-group', flags.socketGroup, groupId) }),
  };
}

function knownId(flag: string, name: string, id: (name: string) => number): string {
  try {
    id(name);
  } catch (err) {
    throw new ConfigError(`${flag}: ${(err as Error).message}`);
  }
  return name;
}

/** Sections whose change needs a new upstream client and cache. */
function runtimeKey(c: Config): string {
  return JSON.stringify([c.upstream, c.cache, c.breaker, c.tables]);
}

export async function sockmapCommand(flags: SockmapFlags): Promise<never> {
  let config = sockmapConfig(flags);
  const log = createLogger(config.log.level, 'cloudtable-sockmap');
  logWarnings(log, configWarnings(config, flags.config));
  const monitoring = await startProxyMetrics(config, log);
  let runtime = createRuntime(config, log, undefined, monitoring.metrics);
  const server = new SockmapServer(sockmapSettings(config.sockmap, config.upstream.deadlineMs, runtime.tables, log, runtime.health), log);
  const listeners = await server.listen(config.sockmap.listen, takeActivatedFds());
  for (const l of listeners) {
    const exposed = !l.activated && !isLocalOnly(parseListenAddress(l.name));
    if (exposed) log.warn({ listener: l.name }, 'listening beyond this host: socketmap has no authentication');
    log.info({ listener: l.name, dialect: l.dialect, activated: l.activated }, 'listening');
    process.stdout.write(`listening ${l.name} ${l.dialect}\n`);
  }
  logWarnings(log, sockmapWarnings(config, listeners));
  runtime.frontEndUp();

  process.on('SIGHUP', () => {
    const next = reload(flags, config, runtime, log, monitoring.metrics);
    if (!next) return;
    ({ config, runtime } = next);
    server.reconfigure(sockmapSettings(config.sockmap, config.upstream.deadlineMs, runtime.tables, log, runtime.health));
    logWarnings(log, sockmapWarnings(config, listeners));
  });

  const signal = await untilSignal();
  log.info({ signal }, 'stopping: answering what was received, accepting nothing more');
  await server.stop();
  await runtime.close();
  await monitoring.close();
  log.info('stopped');
  log.flush();
  process.exit(0);
}

/**
 * SIGHUP: the configuration file is read again and applies to every request
 * from now on, on the open connections too. A bad file is logged and the
 * running configuration kept. The upstream client and cache are rebuilt
 * only when their sections changed; listeners change only with a restart.
 */
function reload(flags: SockmapFlags, current: Config, runtime: Runtime, log: Logger, metrics: ProxyMetrics | undefined): { config: Config; runtime: Runtime } | undefined {
  if (!flags.config) {
    log.warn('SIGHUP: started without --config, nothing to reload');
    return undefined;
  }
  let next: Config;
  try {
    next = sockmapConfig(flags);
  } catch (err) {
    log.error({ err: (err as Error).message }, 'SIGHUP: configuration not reloaded, the running one stays');
    return undefined;
  }
  if (JSON.stringify(next.sockmap.listen) !== JSON.stringify(current.sockmap.listen)) {
    log.warn('SIGHUP: listener changes take effect at the next restart');
  }
  if (JSON.stringify(next.metrics) !== JSON.stringify(current.metrics)) {
    log.warn('SIGHUP: metrics.listen changes take effect at the next restart');
  }
  log.level = next.log.level;
  let nextRuntime = runtime;
  if (runtimeKey(next) !== runtimeKey(current)) {
    nextRuntime = createRuntime(next, log, undefined, metrics);
    nextRuntime.frontEndUp();
    // Lookups still running on the old one settle by its deadline.
    setTimeout(() => void runtime.close(), current.upstream.deadlineMs + 1000).unref();
  }
  log.info({ maps: Object.keys(next.sockmap.maps), newUpstream: nextRuntime !== runtime }, 'SIGHUP: configuration reloaded');
  return { config: next, runtime: nextRuntime };
}
