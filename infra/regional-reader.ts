// A further region of a multi-region deployment: the reader function and
// Function URL there, reading that region's replica of the global table
// (found by its name), with the region's own alarms — the function's, and
// DynamoDB's for the replica. Writes never happen here: the admin function
// lives in the home region only (cloudtable.ts).

import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { IAlarmAction } from 'aws-cdk-lib/aws-cloudwatch';
import { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { Topic } from 'aws-cdk-lib/aws-sns';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { createAlarmTopic } from './alarm-topic.js';
import { Monitoring } from './monitoring.js';
import { READER_OPERATIONS, createReader, readerSizing, type FunctionSizing, type ReadAccessProp } from './reader.js';
import type { UrlFunction } from './url-function.js';
import type { Duration } from 'aws-cdk-lib';

export interface RegionalReaderProps {
  /** The global table's name (the home construct's `globalTableName`). */
  tableName: string;
  reader?: FunctionSizing;
  proxyDeadline?: Duration;
  logRetention?: RetentionDays;
  alarmActions?: IAlarmAction[];
  dashboard?: boolean;
  /** The home construct's per-table read access: every region's reader enforces the same rules. */
  access?: ReadAccessProp;
}

export class CloudTableRegionalReader extends Construct {
  readonly reader: UrlFunction;
  readonly region: string;
  readonly monitoring: Monitoring;

  constructor(scope: Construct, id: string, props: RegionalReaderProps) {
    super(scope, id);
    this.region = Stack.of(this).region;
    const sizing = readerSizing(props.reader, props.proxyDeadline);
    // An ARN in this stack's region: the local replica.
    const replica = TableV2.fromTableName(this, 'Replica', props.tableName);
    // Named, because the home stack's policies refer to it from another region.
    const name = `${Stack.of(this).stackName}-reader`;
    this.reader = createReader(this, 'Reader', replica, sizing, props.logRetention ?? RetentionDays.ONE_MONTH, name, props.access);
    this.monitoring = new Monitoring(this, 'Monitoring', {
      functions: [{ name: 'Reader', fn: this.reader.fn, p99Threshold: sizing.p99Alarm }],
      table: replica,
      operations: [...READER_OPERATIONS],
      actions: props.alarmActions ?? [],
      dashboard: props.dashboard ?? false,
    });
  }
}

export interface RegionalReaderStackProps extends StackProps, Omit<RegionalReaderProps, 'alarmActions'> {
  alarmEmail?: string;
}

/** The stack of one further region: its reader, its alarm topic, its URL as an output. */
export class RegionalReaderStack extends Stack {
  readonly regional: CloudTableRegionalReader;
  readonly alarmTopic: Topic;

  constructor(scope: Construct, id: string, props: RegionalReaderStackProps) {
    super(scope, id, { description: `cloudtable: the reader of region ${props.env?.region ?? '?'} over its replica of the global table`, ...props });
    const { topic, action } = createAlarmTopic(this, props.alarmEmail);
    this.alarmTopic = topic;
    this.regional = new CloudTableRegionalReader(this, 'CloudTable', { ...props, alarmActions: [action] });
    new CfnOutput(this, 'ReaderUrl', { description: `the reader Function URL of ${this.region} (AWS_IAM)`, value: this.regional.reader.url.url });
    new CfnOutput(this, 'AlarmTopicArn', { description: `SNS topic the alarms of ${this.region} notify; subscribe to it`, value: topic.topicArn });
  }
}
