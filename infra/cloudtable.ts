// The reusable construct: everything cloudtable needs in its home region, for
// users to put into their own stacks (infra/cloudtable-stack.ts is one such
// stack). With one region (the default) that is everything. With several
// (`regions`, home first), the table becomes a DynamoDB global table with a
// replica in each further region, the admin function stays here (every
// write happens in the home region), and each further region has a reader
// of its own (regional-reader.ts, in a stack of that region) that this
// construct's policies cover; the admin function knows the replica regions
// so that a load's swap waits until each holds the new generation whole.

import { Duration, Stack, Token, type RemovalPolicy } from 'aws-cdk-lib';
import type { IAlarmAction } from 'aws-cdk-lib/aws-cloudwatch';
import { Operation, TableV2, type Table } from 'aws-cdk-lib/aws-dynamodb';
import { ManagedPolicy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { COLLECT_EVERY_MINUTES, FUNCTION_MEMORY_MB } from '../common/function-sizes.js';
import { limitsFromEnv } from '../lambda/admin/limits.js';
import { defaultConfig } from '../proxy/config.js';
import { Monitoring } from './monitoring.js';
import { READER_OPERATIONS, createReader, readerSizing, requireBelow, type FunctionSizing } from './reader.js';
import { createGlobalStoreTable, createStoreTable } from './store-table.js';
import { UrlFunction } from './url-function.js';

export { READER_OPERATIONS, type FunctionSizing } from './reader.js';

/**
 * The admin function's DynamoDB calls (lambda/store/store.ts as the admin
 * handler, transactions and collector use it): META and error lists
 * (GetItem, UpdateItem), the table index and garbage items (PutItem,
 * DeleteItem), generations (BatchWriteItem puts and deletes, Query pages).
 * No BatchGetItem, no Scan, no table-level calls.
 */
export const ADMIN_OPERATIONS: readonly Operation[] = [
  Operation.GET_ITEM,
  Operation.QUERY,
  Operation.PUT_ITEM,
  Operation.UPDATE_ITEM,
  Operation.DELETE_ITEM,
  Operation.BATCH_WRITE_ITEM,
];

/** How often the admin function collects old generations and settles abandoned transactions. */
const COLLECT_EVERY = Duration.minutes(COLLECT_EVERY_MINUTES);

export interface TransactionSettings {
  /** How long a transaction holds its table without a step or renewal (default 30 s). */
  lease?: Duration;
  /** How long a replaced generation stays readable for lookups in flight (default 30 s). */
  grace?: Duration;
  /** How long the replaced generation is kept for `cloudtable rollback` (default 24 h; 0 disables). */
  keepPrevious?: Duration;
  /** Most entries in one table. */
  maxEntries?: number;
}

/** A reader in a further region (regional-reader.ts), for the policies and outputs of the home construct. */
export interface RegionalEndpoint {
  region: string;
  reader: UrlFunction;
}

export interface CloudTableProps {
  /**
   * Regions of the deployment, home region first (it must be the stack's).
   * One region (the default) keeps a regional table and costs nothing more;
   * with several, the table is a global table with a replica in each further
   * region, whose readers are passed as `regionalReaders`.
   */
  regions?: string[];
  /** The readers of the further regions (one each); see `regions`. */
  regionalReaders?: RegionalEndpoint[];
  /** Name of the global table (required with several regions: the regional readers find their replica by it). */
  globalTableName?: string;
  /** The replication latency alarm fires above this (default 10 s). */
  replicationLatencyAlarm?: Duration;
  /** RETAIN unless told otherwise: mail routing data outlives any one stack. */
  tableRemovalPolicy?: RemovalPolicy;
  /** On unless told otherwise. */
  deletionProtection?: boolean;
  /** Default 512 MB, 3 s, p99 alarm above 1 s. */
  reader?: FunctionSizing;
  /** Default 1024 MB, 60 s, p99 alarm above 48 s. */
  admin?: FunctionSizing;
  /**
   * The operators' `admin.timeout_ms` (default: the CLI's default, 120 s).
   * The admin function's timeout must be below it, for the same reason.
   */
  adminClientTimeout?: Duration;
  /** The admin function's transaction limits; unset ones keep the function's defaults (docs/store.md). */
  transactions?: TransactionSettings;
  /**
   * The mail hosts' `upstream.deadline_ms` (default: the proxy's default,
   * 5 s). The reader's timeout must be below it, so Lambda ends a stuck
   * invocation (and counts it as an error) before the proxy gives up.
   */
  proxyDeadline?: Duration;
  /** Default one month. */
  logRetention?: RetentionDays;
  /** Where alarms notify (e.g. an SNS topic action); none by default. */
  alarmActions?: IAlarmAction[];
  /** A CloudWatch dashboard of the same metrics (billed per dashboard); off by default. */
  dashboard?: boolean;
  /**
   * Per-table read access through the reader, by the caller's IAM principal:
   * table name (or `*` for every table not named) → role ARNs (any session
   * of the role), user ARNs or account ids. A table not covered is read by
   * every caller with the mail-host policy, as without this map. Operators
   * that confirm loads of a listed table (`--confirm-with`) or read it with
   * `cloudtable status` need to be listed too. Refusals are 403.
   */
  access?: Record<string, string[]>;
}

export class CloudTable extends Construct {
  /** A regional table with one region, a global table with several. */
  readonly table: Table | TableV2;
  /** The reader of the home region. */
  readonly reader: UrlFunction;
  /** Every reader, home region first: the endpoints of the mail hosts. */
  readonly endpoints: RegionalEndpoint[];
  /** The deployment's regions, home first. */
  readonly regions: string[];
  readonly admin: UrlFunction;
  /** For mail hosts: invoke the reader through its URL, nothing else. */
  readonly mailHostPolicy: ManagedPolicy;
  /**
   * For operators (`cloudtable load`, `show`, `rollback`, `status`): invoke
   * the admin function and the reader (load's confirmation lookups, status)
   * through their URLs, nothing else.
   */
  readonly operatorPolicy: ManagedPolicy;
  /** Runs the admin function's collection of old generations. */
  readonly collectSchedule: Rule;
  readonly monitoring: Monitoring;

  constructor(scope: Construct, id: string, props: CloudTableProps = {}) {
    super(scope, id);
    const reader = readerSizing(props.reader, props.proxyDeadline);
    const adminTimeout = props.admin?.timeout ?? Duration.seconds(60);
    const admin = { memorySize: FUNCTION_MEMORY_MB.admin as number, timeout: adminTimeout, p99Alarm: Duration.millis(adminTimeout.toMilliseconds() * 0.8), ...props.admin };
    const clientDefaults = defaultConfig();
    requireBelow('admin timeout', admin.timeout, 'the admin client timeout', props.adminClientTimeout ?? Duration.millis(clientDefaults.admin.timeoutMs));
    const logRetention = props.logRetention ?? RetentionDays.ONE_MONTH;

    const home = Stack.of(this).region;
    this.regions = checkRegions(props.regions ?? [home], home, props.regionalReaders ?? []);
    const replicaRegions = this.regions.slice(1);
    const tableProps = {
      ...(props.tableRemovalPolicy !== undefined && { removalPolicy: props.tableRemovalPolicy }),
      ...(props.deletionProtection !== undefined && { deletionProtection: props.deletionProtection }),
    };
    if (replicaRegions.length === 0) {
      this.table = createStoreTable(this, 'Table', tableProps);
    } else {
      if (!props.globalTableName) throw new Error('several regions need globalTableName: the regional readers find their replica by it');
      this.table = createGlobalStoreTable(this, 'Table', { ...tableProps, tableName: props.globalTableName, replicaRegions });
    }
    const environment = { TABLE_NAME: this.table.tableName };

    this.reader = createReader(this, 'Reader', this.table, reader, logRetention, undefined, props.access);
    this.endpoints = [{ region: this.regions[0]!, reader: this.reader }, ...(props.regionalReaders ?? [])];

    this.admin = new UrlFunction(this, 'Admin', {
      entry: 'lambda/admin-function.ts',
      description: 'cloudtable admin: replaces tables transactionally, collects old generations',
      memorySize: admin.memorySize,
      timeout: admin.timeout,
      logRetention,
      environment: {
        ...environment,
        ...transactionEnvironment(props.transactions ?? {}),
        ...(replicaRegions.length > 0 && { [REPLICA_REGIONS_ENV]: replicaRegions.join(',') }),
      },
    });
    this.admin.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ADMIN_OPERATIONS.map((op) => `dynamodb:${op}`), resources: [this.table.tableArn] }),
    );
    if (this.table instanceof TableV2 && replicaRegions.length > 0) {
      // Before a swap the admin function counts the new generation in each
      // replica (docs/store.md, "Several regions"), and before deleting a
      // generation it reads each replica's META: reads only, nothing else there.
      const replicas = this.table;
      this.admin.role.addToPrincipalPolicy(
        new PolicyStatement({
          actions: REPLICA_CHECK_OPERATIONS.map((op) => `dynamodb:${op}`),
          resources: replicaRegions.map((r) => replicas.replica(r).tableArn),
        }),
      );
    }
    // A scheduled event makes the admin function collect instead of answering HTTP (lambda/admin-function.ts).
    this.collectSchedule = new Rule(this, 'CollectSchedule', {
      description: 'cloudtable: collect old generations, settle abandoned transactions',
      schedule: Schedule.rate(COLLECT_EVERY),
      targets: [new LambdaFunction(this.admin.fn)],
    });

    const readers = this.endpoints.map((e) => e.reader);
    this.mailHostPolicy = new ManagedPolicy(this, 'MailHostPolicy', {
      description: `cloudtable: lets a mail host call the reader Function URL${readers.length > 1 ? 's of every region' : ''}, and nothing else`,
      statements: invokeStatements(readers),
    });
    this.operatorPolicy = new ManagedPolicy(this, 'OperatorPolicy', {
      description: "cloudtable: lets an operator call the admin Function URL, and the reader's for confirmations and status; nothing else",
      statements: invokeStatements([this.admin, ...readers]),
    });

    this.monitoring = new Monitoring(this, 'Monitoring', {
      functions: [
        { name: 'Reader', fn: this.reader.fn, p99Threshold: reader.p99Alarm },
        { name: 'Admin', fn: this.admin.fn, p99Threshold: admin.p99Alarm },
      ],
      table: this.table,
      operations: [...new Set([...READER_OPERATIONS, ...ADMIN_OPERATIONS])],
      replicaRegions,
      ...(props.replicationLatencyAlarm && { replicationLatencyAlarm: props.replicationLatencyAlarm }),
      actions: props.alarmActions ?? [],
      dashboard: props.dashboard ?? false,
    });
  }
}

/** The replica regions of the admin function, comma-separated (lambda/admin-function.ts reads it). */
export const REPLICA_REGIONS_ENV = 'CLOUDTABLE_REPLICA_REGIONS';

/** What the admin function reads in each replica: entry counts (Query) and META (GetItem). */
export const REPLICA_CHECK_OPERATIONS: readonly Operation[] = [Operation.GET_ITEM, Operation.QUERY];

/** Home region first, each once, the home region the stack's, and exactly one reader for each further region. */
function checkRegions(regions: string[], home: string, readers: RegionalEndpoint[]): string[] {
  if (regions.length === 0) throw new Error('regions must name at least the home region');
  if (new Set(regions).size !== regions.length) throw new Error(`regions ${regions.join(',')} name a region twice`);
  if (regions.length > 1 && !Token.isUnresolved(home) && regions[0] !== home) {
    throw new Error(`the home region ${regions[0]} (first of regions) must be the stack's region ${home}`);
  }
  if (regions.length > 1 && Token.isUnresolved(home)) throw new Error('several regions need a stack with an explicit region (env.region)');
  const readerRegions = readers.map((r) => r.region).sort();
  const further = regions.slice(1).sort();
  if (JSON.stringify(readerRegions) !== JSON.stringify(further)) {
    throw new Error(`regional readers are for ${readerRegions.join(',') || 'no region'}, but the further regions are ${further.join(',') || 'none'}`);
  }
  return regions;
}

/**
 * Invoking functions through their URLs and in no other way: one
 * statement per action covering every function given (UrlFunction explains why both).
 */
function invokeStatements(fns: UrlFunction[]): PolicyStatement[] {
  const [first, ...rest] = fns.map((f) => f.invokeStatements());
  return first!.map((st, i) => {
    for (const other of rest) st.addResources(...other[i]!.resources);
    return st;
  });
}


/**
 * The admin function's environment for its transaction limits, checked now
 * by the function's own parser (limitsFromEnv), so a bad value fails the
 * synth instead of every cold start.
 */
function transactionEnvironment(t: TransactionSettings): Record<string, string> {
  const env: Record<string, string> = {};
  const seconds = (name: string, d: Duration | undefined): void => {
    if (d !== undefined) env[name] = String(d.toSeconds());
  };
  seconds('CLOUDTABLE_LEASE_S', t.lease);
  seconds('CLOUDTABLE_GRACE_S', t.grace);
  seconds('CLOUDTABLE_KEEP_PREVIOUS_S', t.keepPrevious);
  if (t.maxEntries !== undefined) env.CLOUDTABLE_MAX_ENTRIES = String(t.maxEntries);
  limitsFromEnv(env);
  return env;
}
