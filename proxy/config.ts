// The proxy's configuration as the code reads it (the `Config` type), and
// how it is made: one TOML or JSON file, checked against the schema
// (config/schema.ts: every key's kind, range, default and doc, once), with
// command-line flags on top through the same checks. AWS credentials never
// live here: they come from the standard AWS provider chain.

import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import type { Service } from '../common/contract/lookup.js';
import type { MetricsAddress } from './addresses/metrics-address.js';
import type { Dialect, LogLevel, MissingTableAnswer, NotFoundCode, UnknownMapAnswer } from './config/choices.js';
import { flagPaths, overlay, parseNode, type Out } from './config/define.js';
import { ConfigError } from './config/kinds.js';
import { SCHEMA } from './config/schema.js';

export { ConfigError } from './config/kinds.js';
export { LOG_LEVELS, type LogLevel } from './config/choices.js';
export { DEFAULT_SMTPD_SERVICES, DEFAULT_UPSTREAM_URL } from './config/schema.js';

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
  /** Several readers (one per region); empty: `url` alone. */
  endpoints: EndpointConfig[];
  /** Hedged requests, at most this share (%) of requests in steady state. */
  hedgeBudgetPercent: number;
  hedgeMinMs: number;
  hedgeMaxMs: number;
}

export interface EndpointConfig {
  url: string;
  /** `upstream.region` when unset. */
  region?: string;
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
  /** A call still unanswered after this counts as a failure of its endpoint (0: adaptive). */
  slowCallMs: number;
}

export interface TableConfig {
  /** Overrides cache.stale for this table; credentials are never served stale. */
  staleMs?: number;
  /** Overrides replica.tables for this table. */
  replica?: boolean;
}

export interface ReplicaConfig {
  /** The host's replica store (one LMDB file), shared by every cloudtable process; absent: the default (replica/settings.ts). */
  dir?: string;
  /** `auto`: every table of at most maxEntries entries; `none`; or these tables. Absent: the default (replica/settings.ts). */
  tables?: ReplicaTables;
  maxEntries: number;
  /** A replica the function has not confirmed for this long is not served. */
  expireMs: number;
  /** A served replica is verified whole again this often, by one process of the host at a time; 0: only at opening. */
  verifyMs: number;
  /** Entries of each replicated table a process keeps once read (replica/hot-entries.ts); 0: none. */
  hotEntries: number;
}

export type ReplicaTables = 'auto' | 'none' | string[];

export interface SmtpdConfig {
  /** The cloud table; smtpd's own table name when absent. */
  table?: string;
  /** Services announced with `register|…`. */
  services: Service[];
  /** Settings of one smtpd `table` line, by smtpd's table name; they override the two above. */
  tables: Record<string, SmtpdTableConfig>;
  /** smtpd.conf's `smtp sub-addr-delim` (default `+`): where `mailaddr` matching cuts the tag off a lookup address. */
  subaddressingDelimiter: string;
}

export interface SmtpdTableConfig {
  table?: string;
  services?: Service[];
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
  /** Not served on inet listeners unless allowInet; undefined: secret for credentials and auth. */
  secret?: boolean;
  allowInet: boolean;
}

export interface SockmapConfig {
  listen: SockmapListenConfig[];
  maps: Record<string, SockmapMapConfig>;
  /** Unconfigured maps are the table of that name, on UNIX listeners. */
  anyTable: boolean;
  /** With anyTable, on inet listeners too. */
  anyTableInet: boolean;
  /** Idle Postfix / Sendmail connections are closed after this long; 0: never. */
  postfixIdleMs: number;
  sendmailIdleMs: number;
  /** The answer to a map that is not served. */
  unknownMap: UnknownMapAnswer;
  missingTable: MissingTableAnswer;
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
  replica: ReplicaConfig;
}

// The schema and these interfaces describe the same thing: each must be
// assignable to the other, or the typecheck fails here.
type Parsed = Out<typeof SCHEMA>;
const sameShape: [Config extends Parsed ? true : false, Parsed extends Config ? true : false] = [true, true];
void sameShape;

/** Every key at its default. */
export function defaultConfig(): Config {
  return buildConfig({});
}

/** A configuration from a file's tree (snake_case keys, as documented in the README). */
export function buildConfig(raw: unknown, origin?: string): Config {
  try {
    return parseNode(SCHEMA, raw, '');
  } catch (err) {
    if (err instanceof ConfigError && origin !== undefined) throw new ConfigError(`${origin}: ${err.message}`);
    throw err;
  }
}

/** Reads a TOML (.toml) or JSON (.json) file into its tree, unchecked. */
function readTree(path: string): Record<string, unknown> {
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
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`${path}: the configuration must be a table`);
  return raw as Record<string, unknown>;
}

export function loadConfigFile(path: string): Config {
  return buildConfig(readTree(path), path);
}

/** Flag values by flag name (`--upstream`), as commander gives them; undefined: not given. */
export type FlagValues = Record<string, unknown>;

const FLAG_PATHS = flagPaths(SCHEMA);

/**
 * The configuration of a command: the file (when given) with the flags on
 * top. Each flag is checked by the kind of the key it overrides (the schema
 * names it), so `--upstream foo` is refused as `upstream.url = "foo"` would
 * be, naming the flag.
 */
export function loadConfig(path: string | undefined, flags: FlagValues = {}): Config {
  const tree = path === undefined ? {} : readTree(path);
  for (const [flag, value] of Object.entries(flags)) {
    if (value === undefined) continue;
    const key = FLAG_PATHS.get(flag);
    if (key === undefined) throw new Error(`schema: no key is overridden by ${flag}`);
    overlay(SCHEMA, tree, key, value, flag);
  }
  return buildConfig(tree, path);
}
