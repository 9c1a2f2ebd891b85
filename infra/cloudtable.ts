// The reusable construct: everything cloudtable needs in one AWS account and
// region, for users to put into their own stacks (infra/cloudtable-stack.ts
// is one such stack).

import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { IAlarmAction } from 'aws-cdk-lib/aws-cloudwatch';
import { Operation, type Table } from 'aws-cdk-lib/aws-dynamodb';
import { ManagedPolicy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { defaultConfig } from '../proxy/config.js';
import { Monitoring } from './monitoring.js';
import { createStoreTable } from './store-table.js';
import { UrlFunction } from './url-function.js';

/** Every DynamoDB call the reader makes (lambda/store/store.ts readMeta, readEntries; Query for pattern sets). */
export const READER_OPERATIONS: readonly Operation[] = [Operation.GET_ITEM, Operation.BATCH_GET_ITEM, Operation.QUERY];

export interface FunctionSizing {
  /** MB; CPU grows with it. */
  memorySize?: number;
  timeout?: Duration;
  /** The p99 duration alarm fires above this. */
  p99Alarm?: Duration;
}

export interface CloudTableProps {
  /** RETAIN unless told otherwise: mail routing data outlives any one stack. */
  tableRemovalPolicy?: RemovalPolicy;
  /** On unless told otherwise. */
  deletionProtection?: boolean;
  /** Default 512 MB, 3 s, p99 alarm above 1 s. */
  reader?: FunctionSizing;
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
  /** For mail hosts: invoke the reader through its URL, nothing else. */
  readonly mailHostPolicy: ManagedPolicy;
  readonly monitoring: Monitoring;

  constructor(scope: Construct, id: string, props: CloudTableProps = {}) {
    super(scope, id);
    const reader = { memorySize: 512, timeout: Duration.seconds(3), p99Alarm: Duration.seconds(1), ...props.reader };
    const deadline = props.proxyDeadline ?? Duration.millis(defaultConfig().upstream.deadlineMs);
    if (reader.timeout.toMilliseconds() >= deadline.toMilliseconds()) {
      throw new Error(
        `reader timeout ${reader.timeout.toMilliseconds()} ms must be below the proxy deadline ${deadline.toMilliseconds()} ms, or mail hosts give up before Lambda does`,
      );
    }
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

    this.mailHostPolicy = new ManagedPolicy(this, 'MailHostPolicy', {
      description: 'cloudtable: lets a mail host call the reader Function URL, and nothing else',
      statements: this.reader.invokeStatements(),
    });

    this.monitoring = new Monitoring(this, 'Monitoring', {
      functions: [{ name: 'Reader', fn: this.reader.fn, p99Threshold: reader.p99Alarm }],
      table: this.table,
      operations: [...READER_OPERATIONS],
      actions: props.alarmActions ?? [],
      dashboard: props.dashboard ?? false,
    });
  }
}
