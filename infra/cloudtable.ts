// The reusable construct: everything cloudtable needs in one AWS account and
// region, for users to put into their own stacks (infra/cloudtable-stack.ts
// is one such stack).

import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { IAlarmAction } from 'aws-cdk-lib/aws-cloudwatch';
import { Operation, type Table } from 'aws-cdk-lib/aws-dynamodb';
import { ManagedPolicy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { limitsFromEnv } from '../lambda/admin/limits.js';
import { defaultConfig } from '../proxy/config.js';
import { Monitoring } from './monitoring.js';
import { createStoreTable } from './store-table.js';
import { UrlFunction } from './url-function.js';

/** The reader's DynamoDB calls: META (GetItem), keys (BatchGetItem), pattern sets and listings (Query). */
export const READER_OPERATIONS: readonly Operation[] = [Operation.GET_ITEM, Operation.BATCH_GET_ITEM, Operation.QUERY];

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
const COLLECT_EVERY = Duration.minutes(5);

export interface FunctionSizing {
  /** MB; CPU grows with it. */
  memorySize?: number;
  timeout?: Duration;
  /** The p99 duration alarm fires above this. */
  p99Alarm?: Duration;
}

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

export interface CloudTableProps {
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
}

export class CloudTable extends Construct {
  readonly table: Table;
  readonly reader: UrlFunction;
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
    const reader = { memorySize: 512, timeout: Duration.seconds(3), p99Alarm: Duration.seconds(1), ...props.reader };
    const adminTimeout = props.admin?.timeout ?? Duration.seconds(60);
    const admin = { memorySize: 1024, timeout: adminTimeout, p99Alarm: Duration.millis(adminTimeout.toMilliseconds() * 0.8), ...props.admin };
    const clientDefaults = defaultConfig();
    requireBelow('reader timeout', reader.timeout, 'the proxy deadline', props.proxyDeadline ?? Duration.millis(clientDefaults.upstream.deadlineMs));
    requireBelow('admin timeout', admin.timeout, 'the admin client timeout', props.adminClientTimeout ?? Duration.millis(clientDefaults.admin.timeoutMs));
    const logRetention = props.logRetention ?? RetentionDays.ONE_MONTH;

    this.table = createStoreTable(this, 'Table', {
      ...(props.tableRemovalPolicy !== undefined && { removalPolicy: props.tableRemovalPolicy }),
      ...(props.deletionProtection !== undefined && { deletionProtection: props.deletionProtection }),
    });
    const environment = { TABLE_NAME: this.table.tableName };

    this.reader = new UrlFunction(this, 'Reader', {
      entry: 'lambda/lookup-function.ts',
      description: 'cloudtable reader: answers mail-host lookups from DynamoDB',
      memorySize: reader.memorySize,
      timeout: reader.timeout,
      logRetention,
      environment,
    });
    this.reader.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: READER_OPERATIONS.map((op) => `dynamodb:${op}`), resources: [this.table.tableArn] }),
    );

    this.admin = new UrlFunction(this, 'Admin', {
      entry: 'lambda/admin-function.ts',
      description: 'cloudtable admin: replaces tables transactionally, collects old generations',
      memorySize: admin.memorySize,
      timeout: admin.timeout,
      logRetention,
      environment: { ...environment, ...transactionEnvironment(props.transactions ?? {}) },
    });
    this.admin.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ADMIN_OPERATIONS.map((op) => `dynamodb:${op}`), resources: [this.table.tableArn] }),
    );
    // A scheduled event makes the admin function collect instead of answering HTTP (lambda/admin-function.ts).
    this.collectSchedule = new Rule(this, 'CollectSchedule', {
      description: 'cloudtable: collect old generations, settle abandoned transactions',
      schedule: Schedule.rate(COLLECT_EVERY),
      targets: [new LambdaFunction(this.admin.fn)],
    });

    this.mailHostPolicy = new ManagedPolicy(this, 'MailHostPolicy', {
      description: 'cloudtable: lets a mail host call the reader Function URL, and nothing else',
      statements: this.reader.invokeStatements(),
    });
    this.operatorPolicy = new ManagedPolicy(this, 'OperatorPolicy', {
      description: "cloudtable: lets an operator call the admin Function URL, and the reader's for confirmations and status; nothing else",
      statements: [...this.admin.invokeStatements(), ...this.reader.invokeStatements()],
    });

    this.monitoring = new Monitoring(this, 'Monitoring', {
      functions: [
        { name: 'Reader', fn: this.reader.fn, p99Threshold: reader.p99Alarm },
        { name: 'Admin', fn: this.admin.fn, p99Threshold: admin.p99Alarm },
      ],
      table: this.table,
      operations: [...new Set([...READER_OPERATIONS, ...ADMIN_OPERATIONS])],
      actions: props.alarmActions ?? [],
      dashboard: props.dashboard ?? false,
    });
  }
}

/**
 * A function's timeout must be below its client's, so that Lambda ends a
 * stuck invocation (and counts it as an error) before the client gives up.
 */
function requireBelow(what: string, timeout: Duration, limitName: string, limit: Duration): void {
  if (timeout.toMilliseconds() >= limit.toMilliseconds()) {
    throw new Error(`${what} ${timeout.toMilliseconds()} ms must be below ${limitName} ${limit.toMilliseconds()} ms, or the client gives up before Lambda does`);
  }
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
