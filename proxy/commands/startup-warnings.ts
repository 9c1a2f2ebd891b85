// What a proxy warns about when it starts: settings that expose something
// beyond what the operator may think. Each is allowed (there are setups that
// need it), but never silently: a configuration file that others may change
// (it names the upstream the proxy trusts), a plain-HTTP upstream off this
// host (lookups and answers readable on the wire), a metrics endpoint on
// every interface, and socketmap listeners on which any local user reads
// every table or a secret one.

import { statSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Listener } from '../sockmap/listeners.js';
import { MapDirectory } from '../sockmap/maps.js';

export interface Warning {
  msg: string;
  fields: Record<string, unknown>;
}

/** Loopback host names and addresses: traffic to them never leaves the host. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || (isIP(h) === 4 && h.startsWith('127.'));
}

/** Warnings about the configuration file and the sections every proxy has. */
export function configWarnings(config: Config, configPath: string | undefined): Warning[] {
  const out: Warning[] = [];
  if (configPath !== undefined) {
    try {
      const mode = statSync(configPath).mode;
      if (mode & 0o022) {
        out.push({ msg: 'the configuration file is writable by others than its owner: they can point this proxy at another upstream', fields: { file: configPath, mode: (mode & 0o777).toString(8).padStart(4, '0') } });
      }
    } catch {
      // Read a moment ago; a file gone since is no warning's business.
    }
  }
  const upstream = new URL(config.upstream.url);
  if (upstream.protocol === 'http:' && !isLoopbackHost(upstream.hostname)) {
    out.push({ msg: 'plain http:// upstream off this host: lookups and answers cross the network unencrypted', fields: { upstream: upstream.origin } });
  }
  const metrics = config.metrics.listen;
  if (metrics && (metrics.host === '0.0.0.0' || metrics.host === '::')) {
    out.push({ msg: 'the metrics endpoint listens on every interface: table names and lookup counts are readable from other hosts', fields: { metrics: `${metrics.host}:${metrics.port}` } });
  }
  return out;
}

/** Warnings about what socketmap's inet listeners serve to every local user. */
export function sockmapWarnings(config: Config, listeners: Listener[]): Warning[] {
  const inet = listeners.filter((l) => l.inet).map((l) => l.name);
  if (inet.length === 0) return [];
  const out: Warning[] = [];
  if (config.sockmap.anyTable && config.sockmap.anyTableInet) {
    out.push({ msg: 'inet listeners serve every table (any_table_inet): any local user can read every table, credentials included', fields: { listeners: inet } });
  }
  const secrets = new MapDirectory(config.sockmap).secretsOnInet();
  if (secrets.length > 0) {
    out.push({ msg: 'secret maps served on inet listeners (allow_inet): any local user can read them', fields: { maps: secrets, listeners: inet } });
  }
  return out;
}

export function logWarnings(log: Logger, warnings: Warning[]): void {
  for (const w of warnings) log.warn(w.fields, w.msg);
}
