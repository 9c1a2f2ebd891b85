// Every configuration key, once: its name in the file, kind (type and range,
// kinds.ts), default, one line of doc, and the flag that overrides it. This
// table drives the parser (unknown keys refused), the defaults, the flags'
// validation, and the README's reference table.
//
// To add a key:
//   1. add the property (with a doc comment) to its interface in config.ts;
//   2. add a key(...) here under the same property name, in the section the
//      file writes it in: the file's snake_case name, a kind from kinds.ts
//      (or a new one there), the default as the FILE writes it (seconds for
//      `_s` keys, "0660" for modes), one line of doc; `optionalKey` when
//      absence means something (say what in `defaultDoc`); `flag` when a
//      command-line flag overrides it (the command declares the flag and
//      passes it through `overlay`, see config.ts);
//   3. run `npm run docs:config` to regenerate the README's table
//      (test/config-schema.test.ts fails until the README matches).
// `npm run typecheck` fails while the interface and the schema disagree.

import { servicesWhere } from '../../common/smtpd/services.js';
import { DEFAULT_LISTEN } from '../addresses/listen-address.js';
import { DIALECTS, LOG_LEVELS, MISSING_TABLE_ANSWERS, NOT_FOUND_CODES, UNKNOWN_MAP_ANSWERS } from './choices.js';
import { key, list, named, optionalKey, section } from './define.js';
import { ConfigError, boolean, delimiter, fileMode, integer, listenAddress, mapName, metricsAddress, oneOf, origin, replicaTables, seconds, service, services, smtpdTableName, tableName, text } from './kinds.js';

export const DEFAULT_UPSTREAM_URL = 'http://127.0.0.1:8787';

/** Every service but `auth`: registering `auth` makes smtpd 7.6+ stop asking `credentials`. */
export const DEFAULT_SMTPD_SERVICES = servicesWhere('registeredByDefault');

const MiB64 = 64 * 1024 * 1024;

export const SCHEMA = section('', {
  upstream: section('upstream', {
    url: key('url', origin, { default: DEFAULT_UPSTREAM_URL, doc: 'the reader Function URL (an origin, no path)', flag: '--upstream' }),
    region: key('region', text, { default: 'us-east-1', doc: "region of the SigV4 signature (the function's)" }),
    deadlineMs: key('deadline_ms', integer(1, 600_000, 'ms'), { default: 5000, doc: 'every request is answered by then' }),
    connections: key('connections', integer(1, 1024), { default: 8, doc: 'most HTTP connections to the function' }),
    keepAliveMs: key('keepalive_ms', integer(1, 3_600_000, 'ms'), { default: 30_000, doc: 'idle keep-alive of those connections' }),
    batchWindowMs: key('batch_window_ms', integer(0, 1000, 'ms'), { default: 1, doc: 'how long misses asked while a request of their table is in flight wait for others to share the next one (0: same event-loop turn); a miss with nothing to join goes out at once, with whatever else the same event-loop turn asked' }),
    batchMax: key('batch_max', integer(1, 100), { default: 100, doc: 'most keys in one HTTP request' }),
    maxResponseBytes: key('max_response_bytes', integer(1024, 2 ** 31, 'bytes'), { default: MiB64, doc: 'larger responses are errors' }),
    endpoints: list(
      'endpoints',
      section('', {
        url: key('url', origin, { required: true, doc: "a reader Function URL (an origin, no path): one per region, as the stack's ProxyConfig lists them" }),
        region: optionalKey('region', text, { defaultDoc: '`upstream.region`', doc: 'region of its SigV4 signature' }),
      }),
      { default: [], defaultDoc: 'none: `upstream.url` alone', doc: 'several readers: misses go to the fastest healthy one and are hedged to the next (README, "Several endpoints")' },
    ),
    hedgeBudgetPercent: key('hedge_budget_percent', integer(0, 100, '%'), { default: 5, doc: 'hedged requests, at most this share of requests in steady state (0: no hedging)' }),
    hedgeMinMs: key('hedge_min_ms', integer(1, 60_000, 'ms'), { default: 20, doc: "floor of the hedge delay (an endpoint's recent 95th percentile)" }),
    hedgeMaxMs: key('hedge_max_ms', integer(1, 60_000, 'ms'), { default: 300, doc: 'cap of the hedge delay, well below the deadline' }),
  }),
  cache: section('cache', {
    maxEntries: key('max_entries', integer(1, 100_000_000), { default: 100_000, doc: 'LRU bound on entries' }),
    maxBytes: key('max_bytes', integer(1024, 2 ** 40, 'bytes'), { default: MiB64, doc: 'LRU bound on bytes (keys and values, UTF-16, plus overhead)' }),
    ttlMs: key('ttl_s', seconds(0, 31_536_000), { default: 300, doc: 'lifetime of a found answer' }),
    negativeTtlMs: key('negative_ttl_s', seconds(0, 31_536_000), { default: 60, doc: 'lifetime of a not-found answer' }),
    staleMs: key('stale_s', seconds(0, 31_536_000), { default: 3600, doc: 'how long after expiry a found answer may be served while the function fails' }),
    maxStalenessMs: key('max_staleness_s', seconds(0.1, 31_536_000), {
      default: 10,
      doc: 'a cached answer is served only while its table\'s generation was confirmed by the function within this; tables in use are checked in the background, so a commit reaches the proxy within it plus one deadline',
    }),
  }),
  breaker: section('breaker', {
    failures: key('failures', integer(1, 1000), { default: 3, doc: 'consecutive upstream failures that open the circuit' }),
    probeIntervalMs: key('probe_interval_ms', integer(10, 60_000, 'ms'), { default: 200, doc: 'recovery probe interval while open' }),
    slowCallMs: key('slow_call_ms', integer(0, 600_000, 'ms'), {
      default: 0,
      defaultDoc: '0: adaptive',
      doc: 'calls still unanswered after this count as failures of their endpoint (0: four times its recent 95th percentile, never below 1 s, what a cold start needs)',
    }),
  }),
  tables: named(
    'tables',
    tableName,
    section('', {
      staleMs: optionalKey('stale_s', seconds(0, 31_536_000), { defaultDoc: '`cache.stale_s`', doc: '`cache.stale_s` for one table (credentials are never served stale)' }),
      replica: optionalKey('replica', boolean, { defaultDoc: '`replica.tables`', doc: 'whether this table is answered from a local replica (see [Replicas](#replicas))' }),
    }),
  ),
  smtpd: section('smtpd', {
    table: optionalKey('table', tableName, { defaultDoc: "smtpd's table name", doc: 'cloud table for `cloudtable smtpd`', flag: '--table' }),
    services: key('services', services, { default: DEFAULT_SMTPD_SERVICES, defaultDoc: 'all but `auth`', doc: 'services registered in the handshake' }),
    subaddressingDelimiter: key('subaddressing_delimiter', delimiter, { default: '+', doc: "smtpd.conf's `smtp sub-addr-delim`, for `mailaddr` matching" }),
    tables: named(
      'tables',
      smtpdTableName,
      section('', {
        table: optionalKey('table', tableName, { defaultDoc: '`smtpd.table`', doc: 'cloud table of smtpd\'s table `NAME` (its `table NAME cloudtable:FILE` line)' }),
        services: optionalKey('services', services, { defaultDoc: '`smtpd.services`', doc: 'services registered by that table line (e.g. `["auth"]` for the auth table only)' }),
      }),
    ),
  }),
  sockmap: section(
    'sockmap',
    {
      listen: list(
        'listen',
        section('', {
          address: key('address', listenAddress, { required: true, doc: 'where to listen' }),
          dialect: key('dialect', oneOf(DIALECTS), { default: 'postfix', doc: 'the client: `postfix` (replies up to 100,000 bytes) or `sendmail` (up to 1,000,000, `%` doubled)' }),
          // The --socket-* flags set these for every --listen unix: socket (commands/sockmap.ts).
          mode: key('mode', fileMode, { default: '0660', doc: 'permissions of a UNIX socket', flag: '--socket-mode' }),
          owner: optionalKey('owner', text, { defaultDoc: "the process's", doc: 'owner of a UNIX socket (name or id)', flag: '--socket-owner' }),
          group: optionalKey('group', text, { defaultDoc: "the process's", doc: 'group of a UNIX socket (name or id)', flag: '--socket-group' }),
        }),
        { default: [{ address: DEFAULT_LISTEN }], defaultDoc: `one: \`${DEFAULT_LISTEN}\``, doc: 'the listeners', flag: '--listen' },
      ),
      maps: named(
        'maps',
        mapName,
        section('', {
          table: key('table', tableName, { defaultIsName: true, doc: 'cloud table of map `NAME`' }),
          service: key('service', service, { default: 'string', doc: 'lookup service, whose matching rules apply (`string`: exact)' }),
          foldCase: key('fold_case', boolean, { default: false, doc: 'lowercase keys before the lookup' }),
          notFound: key('not_found', oneOf(NOT_FOUND_CODES), { default: 'NOTFOUND', doc: 'the not-found answer; `NOMORE` (MeTA1): not found, stop searching' }),
          secret: optionalKey('secret', boolean, {
            defaultDoc: '`true` for services `credentials` and `auth`',
            doc: 'a secret map is not served on `inet` listeners (any local user can connect to those) unless `allow_inet`',
          }),
          allowInet: key('allow_inet', boolean, { default: false, doc: 'serve this map on `inet` listeners although it is secret' }),
        }),
      ),
      anyTable: key('any_table', boolean, {
        default: false,
        doc: 'a map not in `sockmap.maps` is the table of that name, on UNIX listeners (whose file permissions say who connects); `false`: only configured maps are served',
        flag: '--any-table',
      }),
      anyTableInet: key('any_table_inet', boolean, {
        default: false,
        doc: 'with `any_table`, on `inet` listeners too: every local user then reads every table, credentials included (warned at start)',
        flag: '--any-table-inet',
      }),
      unknownMap: key('unknown_map', oneOf(UNKNOWN_MAP_ANSWERS), { default: 'PERM', doc: 'the answer to an unknown map (not configured, with `any_table = false`)' }),
      missingTable: key('missing_table', oneOf(MISSING_TABLE_ANSWERS), {
        default: 'TEMP',
        doc: 'the answer to a table the function does not have, when nothing of it is cached: `TEMP` delays mail; `PERM` (`unknown map`) is taken by Sendmail as not found',
      }),
      maxConnections: key('max_connections', integer(1, 1_000_000), {
        default: 1024,
        doc: 'across all listeners; at the limit a new connection closes the one idle longest (Postfix ones first), or is closed when none is idle',
      }),
      postfixIdleMs: key('postfix_idle_timeout_s', seconds(0, 86_400), {
        default: 60,
        doc: 'a `postfix` connection idle this long is closed (Postfix closes its own after 10 s idle, and reconnects and resends on EOF); 0: never',
      }),
      sendmailIdleMs: key('sendmail_idle_timeout_s', seconds(0, 86_400), {
        default: 0,
        doc: 'the same for `sendmail` connections; 0 (the default): never, as Sendmail keeps one connection for its life and fails the next lookup once after a close',
      }),
      maxInflight: key('max_inflight', integer(1, 100_000), { default: 64, doc: 'unanswered requests of one connection before it is no longer read' }),
      maxRequestBytes: key('max_request_bytes', integer(64, 64 * 1024 * 1024, 'bytes'), { default: 64 * 1024, doc: 'longest request netstring; a longer one closes its connection' }),
      healthMap: optionalKey('health_map', mapName, {
        defaultDoc: 'off',
        doc: 'a map name answering health checks: `NAME TABLE` → `OK table TABLE generation N, answered in M ms`, or `TEMP`/`TIMEOUT` with the cause (see [Health](#health))',
      }),
    },
    (s, where) => {
      if (s.healthMap !== undefined && s.maps[s.healthMap]) throw new ConfigError(`${where}.health_map: ${s.healthMap} is also a configured map`);
    },
  ),
  log: section('log', {
    level: key('level', oneOf(LOG_LEVELS), { default: 'info', doc: 'what is logged, to stderr', flag: '--log-level' }),
  }),
  admin: section('admin', {
    url: key('url', origin, { default: DEFAULT_UPSTREAM_URL, doc: 'the admin Function URL (`cloudtable load`, `show`, `rollback`, `status`)', flag: '--admin' }),
    region: key('region', text, { defaultFrom: 'upstream.region', doc: 'region of its SigV4 signature' }),
    timeoutMs: key('timeout_ms', integer(1000, 3_600_000, 'ms'), { default: 120_000, doc: 'longest wait for one admin request' }),
  }),
  replica: section('replica', {
    dir: optionalKey('dir', text, { defaultDoc: '`/var/lib/cloudtable` (or `$CLOUDTABLE_REPLICA_DIR`)', doc: "the host's replica store, shared by every cloudtable process of the host" }),
    tables: optionalKey('tables', replicaTables, { defaultDoc: '`auto` (or `$CLOUDTABLE_REPLICA_TABLES`)', doc: 'tables answered from a local replica: `auto` (those of at most `max_entries`), `none`, or a list' }),
    maxEntries: key('max_entries', integer(0, 100_000_000), { default: 1_000_000, doc: 'with `tables = "auto"`, larger tables keep the cache path' }),
    expireMs: key('expire_s', seconds(1, 31_536_000), { default: 604_800, doc: 'a replica the function has not confirmed for this long answers error (TEMP) until it does' }),
    verifyMs: key('verify_s', seconds(0, 31_536_000), { default: 3600, doc: 'a served replica is verified again (count and digest of every entry) this often, by one process of the host at a time; 0: only when a process opens it' }),
    hotEntries: key('hot_entries', integer(0, 1_000_000), { default: 4096, doc: 'entries of each replicated table a process keeps in its own memory once read twice (at most twice this many, each under 1 KiB), so a hot key is no store read; 0: none' }),
  }),
  metrics: section('metrics', {
    listen: optionalKey('listen', metricsAddress, { defaultDoc: 'off', doc: 'the Prometheus endpoint; a bare port listens on 127.0.0.1', flag: '--metrics' }),
  }),
});
