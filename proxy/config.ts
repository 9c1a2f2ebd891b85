// The proxy's configuration: one TOML or JSON file, defaults for everything
// but the upstream URL, flags on top. AWS credentials never live here: they
// come from the standard AWS provider chain (environment, profile, IMDS…).

import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { SERVICES, isService, LIMITS, type Service } from '../common/contract/lookup.js';
import { DEFAULT_LISTEN, parseListenAddress } from './sockmap/address.js';
import { DIALECTS, type Dialect, type NotFoundCode } from './sockmap/dialect.js';
import { parseMetricsAddress, type MetricsAddress } from './metrics/metrics-address.js';

export interface UpstreamConfig {
  /** The reader Function URL, or the local backend's URL. */
  url: string;
  /** Region the SigV4 signature is scoped to (the function's region). */
  region: string;
  /** Every request is answered by then, whatever the upstream does. */
  deadlineMs: number;
  /** Most HTTP connections to the upstream. */
  connections: number;
  keepAliveMs: number;
  /** Misses wait at most this long to be batched (0: the same event-loop turn). */
  batchWindowMs: number;
  /** At most this many keys per HTTP request (the contract allows 100). */
  batchMax: number;
  maxResponseBytes: number;
}

export interface CacheConfig {
  maxEntries: number;
  maxBytes: number;
  ttlMs: number;
  negativeTtlMs: number;
  /** How long after expiry a value may still be served when the upstream fails. */
  staleMs: number;
  /**
   * Longest time a cached answer is served without the table's generation
   * having been confirmed by the function: a table in use is checked at
   * least this often, so a commit reaches this proxy within it (plus one deadline).
   */
  maxStalenessMs: number;
}

export interface BreakerConfig {
  /** Consecutive upstream failures that open the circuit. */
  failures: number;
  /** While open, recovery is probed this often. */
  probeIntervalMs: number;
}

export interface TableConfig {
  /** Overrides cache.stale for this table; credentials are never served stale. */
  staleMs?: number;
}

export interface SmtpdConfig {
  /** The cloud table; smtpd's own table name when absent. */
  table?: string;
  /** Services announced with `register|…`. */
  services: Service[];
  /** smtpd.conf's `smtp sub-addr-delim` (default `+`): where `mailaddr` matching cuts the tag off a lookup address. */
  subaddressingDelimiter: string;
}

export interface SockmapListenConfig {
  /** `inet:HOST:PORT` or `unix:PATH`, as validated by parseListenAddress. */
  address: string;
  /** Which client connects here: decides the reply limit and `%` escaping. */
  dialect: Dialect;
  /** UNIX sockets: permission bits, and owner and group (name or number) of the socket file. */
  mode: number;
  owner?: string;
  group?: string;
}

export interface SockmapMapConfig {
  table: string;
  service: Service;
  /** Lowercase keys before the lookup (tables hold lowercase keys). */
  foldCase: boolean;
  notFound: NotFoundCode;
}

export interface SockmapConfig {
  listen: SockmapListenConfig[];
  maps: Record<string, SockmapMapConfig>;
  /** Map names not in `maps` are the table of that name, exact match; false: they are unknown maps. */
  anyTable: boolean;
  /** The answer to a map that is not served. */
  unknownMap: 'PERM' | 'NOTFOUND';
  /** Across all listeners; connections beyond it are closed at once. */
  maxConnections: number;
  /** Requests of one connection being answered; beyond it the connection is not read. */
  maxInflight: number;
  /** Longest request netstring; a longer one closes the connection. */
  maxRequestBytes: number;
  /** `HEALTHMAP TABLE` checks TABLE through the function (for monitoring); no health map when absent. */
  healthMap?: string;
}

export interface AdminConfig {
  /** The admin Function URL (`cloudtable load`, `show`, `rollback`, `status`), or the local backend's URL. */
  url: string;
  /** Region of its SigV4 signature; upstream.region unless set. */
  region: string;
  /** Longest wait for one admin request (validation of a large table reads it whole). */
  timeoutMs: number;
}

export interface MetricsConfig {
  /** The Prometheus endpoint's address; no endpoint when absent. */
  listen?: MetricsAddress;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Config {
  upstream: UpstreamConfig;
  cache: CacheConfig;
  breaker: BreakerConfig;
  tables: Record<string, TableConfig>;
  smtpd: SmtpdConfig;
  sockmap: SockmapConfig;
  log: { level: LogLevel };
  admin: AdminConfig;
  metrics: MetricsConfig;
}

/** Every service but `auth`: registering `auth` makes smtpd 7.6+ stop asking `credentials`. */
export const DEFAULT_SMTPD_SERVICES: Service[] = SERVICES.filter((s) => s !== 'auth');

export const DEFAULT_UPSTREAM_URL = 'http://127.0.0.1:8787';

export function defaultConfig(): Config {
  return {
    upstream: {
      url: DEFAULT_UPSTREAM_URL,
      region: 'us-east-1',
      deadlineMs: 5000,
      connections: 8,
      keepAliveMs: 30_000,
      batchWindowMs: 1,
      batchMax: 100,
      maxResponseBytes: 64 * 1024 * 1024,
    },
    cache: {
      maxEntries: 100_000,
      maxBytes: 64 * 1024 * 1024,
      ttlMs: 300_000,
      negativeTtlMs: 60_000,
      staleMs: 3_600_000,
      maxStalenessMs: 10_000,
    },
    breaker: { failures: 3, probeIntervalMs: 200 },
    tables: {},
    smtpd: { services: [...DEFAULT_SMTPD_SERVICES], subaddressingDelimiter: '+' },
    sockmap: {
      listen: [{ address: DEFAULT_LISTEN, dialect: 'postfix', mode: 0o660 }],
      maps: {},
      anyTable: true,
      unknownMap: 'PERM',
      maxConnections: 1024,
      maxInflight: 64,
      maxRequestBytes: 64 * 1024,
    },
    log: { level: 'info' },
    admin: { url: DEFAULT_UPSTREAM_URL, region: 'us-east-1', timeoutMs: 120_000 },
    metrics: {},
  };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Raw = Record<string, unknown>;

/** Reads a TOML (.toml) or JSON (.json) file. Keys are snake_case as documented in the README. */
export function loadConfigFile(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read configuration ${path}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = extname(path) === '.json' ? JSON.parse(text) : parseToml(text);
  } catch (err) {
    throw new ConfigError(`${path}: ${(err as Error).message}`);
  }
  return buildConfig(raw, path);
}

export function buildConfig(raw: unknown, origin = 'configuration'): Config {
  const c = defaultConfig();
  const r = section(raw, origin);
  const known = new Set(['upstream', 'cache', 'breaker', 'tables', 'smtpd', 'sockmap', 'log', 'admin', 'metrics']);
  for (const k of Object.keys(r)) if (!known.has(k)) throw new ConfigError(`${origin}: unknown section [${k}]`);

  const u = section(r.upstream, `${origin} [upstream]`);
  allowKeys(u, `${origin} [upstream]`, ['url', 'region', 'deadline_ms', 'connections', 'keepalive_ms', 'batch_window_ms', 'batch_max', 'max_response_bytes']);
  if (u.url !== undefined) c.upstream.url = url(u.url, 'upstream.url');
  if (u.region !== undefined) c.upstream.region = str(u.region, 'upstream.region');
  c.upstream.deadlineMs = int(u.deadline_ms, 'upstream.deadline_ms', c.upstream.deadlineMs, 1, 600_000);
  c.upstream.connections = int(u.connections, 'upstream.connections', c.upstream.connections, 1, 1024);
  c.upstream.keepAliveMs = int(u.keepalive_ms, 'upstream.keepalive_ms', c.upstream.keepAliveMs, 1, 3_600_000);
  c.upstream.batchWindowMs = int(u.batch_window_ms, 'upstream.batch_window_ms', c.upstream.batchWindowMs, 0, 1000);
  c.upstream.batchMax = int(u.batch_max, 'upstream.batch_max', c.upstream.batchMax, 1, 100);
  c.upstream.maxResponseBytes = int(u.max_response_bytes, 'upstream.max_response_bytes', c.upstream.maxResponseBytes, 1024, 2 ** 31);

  const ca = section(r.cache, `${origin} [cache]`);
  allowKeys(ca, `${origin} [cache]`, ['max_entries', 'max_bytes', 'ttl_s', 'negative_ttl_s', 'stale_s', 'max_staleness_s']);
  c.cache.maxEntries = int(ca.max_entries, 'cache.max_entries', c.cache.maxEntries, 1, 100_000_000);
  c.cache.maxBytes = int(ca.max_bytes, 'cache.max_bytes', c.cache.maxBytes, 1024, 2 ** 40);
  c.cache.ttlMs = seconds(ca.ttl_s, 'cache.ttl_s', c.cache.ttlMs);
  c.cache.negativeTtlMs = seconds(ca.negative_ttl_s, 'cache.negative_ttl_s', c.cache.negativeTtlMs);
  c.cache.staleMs = seconds(ca.stale_s, 'cache.stale_s', c.cache.staleMs);
  c.cache.maxStalenessMs = seconds(ca.max_staleness_s, 'cache.max_staleness_s', c.cache.maxStalenessMs);
  if (c.cache.maxStalenessMs < 100) throw new ConfigError('cache.max_staleness_s must be at least 0.1');

  const b = section(r.breaker, `${origin} [breaker]`);
  allowKeys(b, `${origin} [breaker]`, ['failures', 'probe_interval_ms']);
  c.breaker.failures = int(b.failures, 'breaker.failures', c.breaker.failures, 1, 1000);
  c.breaker.probeIntervalMs = int(b.probe_interval_ms, 'breaker.probe_interval_ms', c.breaker.probeIntervalMs, 10, 60_000);

  const t = section(r.tables, `${origin} [tables]`);
  for (const [name, value] of Object.entries(t)) {
    const tc = section(value, `${origin} [tables.${name}]`);
    allowKeys(tc, `${origin} [tables.${name}]`, ['stale_s']);
    c.tables[name] = tc.stale_s === undefined ? {} : { staleMs: seconds(tc.stale_s, `tables.${name}.stale_s`, 0) };
  }

  const s = section(r.smtpd, `${origin} [smtpd]`);
  allowKeys(s, `${origin} [smtpd]`, ['table', 'services', 'subaddressing_delimiter']);
  if (s.table !== undefined) c.smtpd.table = str(s.table, 'smtpd.table');
  if (s.subaddressing_delimiter !== undefined) {
    const d = s.subaddressing_delimiter;
    // smtpd.conf's own rule for `smtp sub-addr-delim`.
    if (typeof d !== 'string' || !/^[\x21-\x3f\x41-\x7e]$/.test(d)) {
      throw new ConfigError('smtpd.subaddressing_delimiter must be one printable character other than space and @');
    }
    c.smtpd.subaddressingDelimiter = d;
  }
  if (s.services !== undefined) {
    if (!Array.isArray(s.services) || s.services.length === 0) throw new ConfigError('smtpd.services must be a non-empty list');
    c.smtpd.services = s.services.map((x, i) => {
      if (!isService(x)) throw new ConfigError(`smtpd.services[${i}]: ${JSON.stringify(x)} is not a table(5) service`);
      return x;
    });
  }

  buildSockmap(section(r.sockmap, `${origin} [sockmap]`), `${origin} [sockmap]`, c.sockmap);

  const a = section(r.admin, `${origin} [admin]`);
  allowKeys(a, `${origin} [admin]`, ['url', 'region', 'timeout_ms']);
  if (a.url !== undefined) c.admin.url = url(a.url, 'admin.url');
  c.admin.region = a.region !== undefined ? str(a.region, 'admin.region') : c.upstream.region;
  c.admin.timeoutMs = int(a.timeout_ms, 'admin.timeout_ms', c.admin.timeoutMs, 1000, 3_600_000);

  const l = section(r.log, `${origin} [log]`);
  allowKeys(l, `${origin} [log]`, ['level']);
  if (l.level !== undefined) {
    if (!(LOG_LEVELS as readonly unknown[]).includes(l.level)) throw new ConfigError(`log.level must be one of ${LOG_LEVELS.join(', ')}`);
    c.log.level = l.level as LogLevel;
  }

  const m = section(r.metrics, `${origin} [metrics]`);
  allowKeys(m, `${origin} [metrics]`, ['listen']);
  if (m.listen !== undefined) c.metrics.listen = metricsAddress(m.listen, 'metrics.listen');
  return c;
}

function buildSockmap(s: Raw, where: string, c: SockmapConfig): void {
  allowKeys(s, where, ['listen', 'maps', 'any_table', 'unknown_map', 'max_connections', 'max_inflight', 'max_request_bytes', 'health_map']);
  if (s.listen !== undefined) {
    if (!Array.isArray(s.listen) || s.listen.length === 0) throw new ConfigError('sockmap.listen must be a non-empty list of [[sockmap.listen]] tables');
    c.listen = s.listen.map((x, i) => sockmapListener(section(x, `${where} listen[${i}]`), `sockmap.listen[${i}]`));
  }
  const maps = section(s.maps, `${where} maps`);
  for (const [name, value] of Object.entries(maps)) {
    const m = section(value, `${where} maps.${name}`);
    allowKeys(m, `${where} maps.${name}`, ['table', 'service', 'fold_case', 'not_found']);
    if (/[\s\0]/.test(name) || name === '') throw new ConfigError(`sockmap.maps: ${JSON.stringify(name)} cannot be a map name (no spaces)`);
    const table = m.table === undefined ? name : str(m.table, `sockmap.maps.${name}.table`);
    if (!LIMITS.tableName.test(table)) throw new ConfigError(`sockmap.maps.${name}.table: ${JSON.stringify(table)} is not a table name`);
    if (m.service !== undefined && !isService(m.service)) throw new ConfigError(`sockmap.maps.${name}.service: ${JSON.stringify(m.service)} is not a table(5) service`);
    c.maps[name] = {
      table,
      service: (m.service as Service | undefined) ?? 'string',
      foldCase: bool(m.fold_case, `sockmap.maps.${name}.fold_case`, false),
      notFound: oneOf(m.not_found, `sockmap.maps.${name}.not_found`, ['NOTFOUND', 'NOMORE'] as const, 'NOTFOUND'),
    };
  }
  c.anyTable = bool(s.any_table, 'sockmap.any_table', c.anyTable);
  c.unknownMap = oneOf(s.unknown_map, 'sockmap.unknown_map', ['PERM', 'NOTFOUND'] as const, c.unknownMap);
  c.maxConnections = int(s.max_connections, 'sockmap.max_connections', c.maxConnections, 1, 1_000_000);
  c.maxInflight = int(s.max_inflight, 'sockmap.max_inflight', c.maxInflight, 1, 100_000);
  c.maxRequestBytes = int(s.max_request_bytes, 'sockmap.max_request_bytes', c.maxRequestBytes, 64, 64 * 1024 * 1024);
  if (s.health_map !== undefined) {
    const h = str(s.health_map, 'sockmap.health_map');
    if (/[\s\0]/.test(h)) throw new ConfigError(`sockmap.health_map: ${JSON.stringify(h)} cannot be a map name (no spaces)`);
    if (c.maps[h]) throw new ConfigError(`sockmap.health_map: ${h} is also a configured map`);
    c.healthMap = h;
  }
}

function sockmapListener(l: Raw, name: string): SockmapListenConfig {
  allowKeys(l, name, ['address', 'dialect', 'mode', 'owner', 'group']);
  const address = str(l.address, `${name}.address`);
  try {
    parseListenAddress(address);
  } catch (err) {
    throw new ConfigError(`${name}.address: ${(err as Error).message}`);
  }
  const out: SockmapListenConfig = { address, dialect: oneOf(l.dialect, `${name}.dialect`, DIALECTS, 'postfix'), mode: 0o660 };
  if (l.mode !== undefined) {
    // TOML has octal integers (0o660); a string "0660" reads as people write modes.
    const mode = typeof l.mode === 'string' && /^0?[0-7]{3}$/.test(l.mode) ? parseInt(l.mode, 8) : l.mode;
    out.mode = int(mode, `${name}.mode (octal, e.g. "0660")`, 0, 0, 0o777);
  }
  if (l.owner !== undefined) out.owner = str(l.owner, `${name}.owner`);
  if (l.group !== undefined) out.group = str(l.group, `${name}.group`);
  return out;
}

function bool(x: unknown, name: string, dflt: boolean): boolean {
  if (x === undefined) return dflt;
  if (typeof x !== 'boolean') throw new ConfigError(`${name} must be true or false`);
  return x;
}

function oneOf<T extends string>(x: unknown, name: string, values: readonly T[], dflt: T): T {
  if (x === undefined) return dflt;
  if (typeof x !== 'string' || !(values as readonly string[]).includes(x)) throw new ConfigError(`${name} must be one of ${values.join(', ')}`);
  return x as T;
}

export function metricsAddress(x: unknown, name: string): MetricsAddress {
  try {
    return parseMetricsAddress(typeof x === 'number' ? String(x) : str(x, name));
  } catch (err) {
    throw err instanceof ConfigError ? err : new ConfigError(`${name}: ${(err as Error).message}`);
  }
}

function section(x: unknown, where: string): Raw {
  if (x === undefined) return {};
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new ConfigError(`${where} must be a table`);
  return x as Raw;
}

function allowKeys(r: Raw, where: string, keys: string[]): void {
  for (const k of Object.keys(r)) if (!keys.includes(k)) throw new ConfigError(`${where}: unknown key ${k} (known: ${keys.join(', ')})`);
}

function str(x: unknown, name: string): string {
  if (typeof x !== 'string' || x === '') throw new ConfigError(`${name} must be a non-empty string`);
  return x;
}

function url(x: unknown, name: string): string {
  const s = str(x, name);
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new ConfigError(`${name}: ${s} is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError(`${name} must be http or https`);
  if (u.pathname !== '/' || u.search) throw new ConfigError(`${name} must be an origin (scheme://host[:port]/), without a path`);
  return u.origin;
}

function int(x: unknown, name: string, dflt: number, min: number, max: number): number {
  if (x === undefined) return dflt;
  const n = typeof x === 'bigint' ? Number(x) : x;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}`);
  }
  return n;
}

function seconds(x: unknown, name: string, dfltMs: number): number {
  if (x === undefined) return dfltMs;
  const n = typeof x === 'bigint' ? Number(x) : x;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0 || n > 31_536_000) throw new ConfigError(`${name} must be a number of seconds from 0 to 31536000`);
  return Math.round(n * 1000);
}
