// CloudWatch alarms on what makes mail hosts answer `error`: the functions
// failing, being throttled, slowing down, answering 5xx; DynamoDB throttling
// or failing; replicas of a global table falling behind (a load waits for
// them before its swap). And an optional dashboard of the same metrics.
// Alarms are regional: each region's stack has its own Monitoring.

import { Duration } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  Metric,
  TreatMissingData,
  type IAlarmAction,
  type IMetric,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { ITable, Operation } from 'aws-cdk-lib/aws-dynamodb';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';

export interface MonitoredFunction {
  /** Short name used in alarm ids and descriptions ("Reader", "Admin"). */
  name: string;
  fn: IFunction;
  /** The p99 duration alarm fires above this. */
  p99Threshold: Duration;
}

export interface MonitoringProps {
  functions: MonitoredFunction[];
  table: ITable;
  /** The DynamoDB operations the functions use (the table's metrics are per operation). */
  operations: Operation[];
  /** Replica regions whose replication latency from this region is watched (global tables; none by default). */
  replicaRegions?: string[];
  /** The replication latency alarm fires above this (default 10 s; AWS: usually under a second). */
  replicationLatencyAlarm?: Duration;
  actions: IAlarmAction[];
  dashboard: boolean;
}

const PERIOD = Duration.minutes(5);

export class Monitoring extends Construct {
  readonly alarms: Alarm[] = [];
  readonly dashboard?: Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    for (const { name, fn, p99Threshold } of props.functions) {
      // Errors are failed invocations (a crash, a timeout); the reader's
      // in-band 503 when DynamoDB is down shows up as Url5xxCount instead.
      this.alarm(`${name}Errors`, `${name} function invocations failed (crash or timeout)`, fn.metricErrors({ period: PERIOD, statistic: 'Sum' }), 1);
      this.alarm(`${name}Throttles`, `${name} function invocations were throttled (concurrency limit)`, fn.metricThrottles({ period: PERIOD, statistic: 'Sum' }), 1);
      this.alarm(`${name}Url5xx`, `${name} Function URL answered 5xx (store unavailable, function error)`, fn.metric('Url5xxCount', { period: PERIOD, statistic: 'Sum' }), 1);
      // Slowness must last: two of three periods, so one cold-start burst does not page anyone.
      this.alarm(`${name}DurationP99`, `${name} function p99 duration above ${p99Threshold.toMilliseconds()} ms`, fn.metricDuration({ period: PERIOD, statistic: 'p99' }), p99Threshold.toMilliseconds(), {
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 3,
        datapointsToAlarm: 2,
      });
    }
    const operations = props.operations;
    this.alarm('TableThrottledRequests', 'DynamoDB throttled requests of cloudtable', props.table.metricThrottledRequestsForOperations({ operations, period: PERIOD }), 1);
    this.alarm('TableSystemErrors', 'DynamoDB answered cloudtable with system errors (HTTP 500)', props.table.metricSystemErrorsForOperations({ operations, period: PERIOD }), 1);
    const lag = props.replicationLatencyAlarm ?? Duration.seconds(10);
    for (const region of props.replicaRegions ?? []) {
      // Published in the region writes come from, per receiving region. A
      // lagging replica holds loads at their swap, so this says why a load is slow.
      this.alarm(`ReplicationLatency-${region}`, `DynamoDB replication to ${region} slower than ${lag.toMilliseconds()} ms on average`, replicationLatency(props.table, region), lag.toMilliseconds(), {
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 3,
        datapointsToAlarm: 2,
      });
    }
    for (const alarm of this.alarms) alarm.addAlarmAction(...props.actions);

    if (props.dashboard) this.dashboard = this.createDashboard(props);
  }

  private alarm(
    id: string,
    description: string,
    metric: IMetric,
    threshold: number,
    extra: { comparisonOperator?: ComparisonOperator; evaluationPeriods?: number; datapointsToAlarm?: number } = {},
  ): void {
    this.alarms.push(
      new Alarm(this, id, {
        alarmDescription: description,
        metric,
        threshold,
        comparisonOperator: extra.comparisonOperator ?? ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: extra.evaluationPeriods ?? 1,
        datapointsToAlarm: extra.datapointsToAlarm ?? 1,
        // No traffic is not a failure.
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    );
  }

  private createDashboard(props: MonitoringProps): Dashboard {
    const dashboard = new Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });
    for (const { name, fn } of props.functions) {
      dashboard.addWidgets(
        new GraphWidget({
          title: `${name}: invocations, errors, throttles`,
          left: [fn.metricInvocations({ period: PERIOD }), fn.metricErrors({ period: PERIOD }), fn.metricThrottles({ period: PERIOD })],
        }),
        new GraphWidget({
          title: `${name}: duration`,
          left: ['p50', 'p99', 'Maximum'].map((statistic) => fn.metricDuration({ period: PERIOD, statistic, label: statistic })),
        }),
        new GraphWidget({
          title: `${name}: URL answers`,
          left: ['Url4xxCount', 'Url5xxCount'].map((m) => fn.metric(m, { period: PERIOD, statistic: 'Sum', label: m })),
        }),
      );
    }
    const { table, operations } = props;
    dashboard.addWidgets(
      new GraphWidget({
        title: 'DynamoDB: consumed capacity',
        left: [table.metricConsumedReadCapacityUnits({ period: PERIOD }), table.metricConsumedWriteCapacityUnits({ period: PERIOD })],
      }),
      // One widget each: both math expressions name their metrics by operation.
      new GraphWidget({ title: 'DynamoDB: throttled requests', left: [table.metricThrottledRequestsForOperations({ operations, period: PERIOD })] }),
      new GraphWidget({ title: 'DynamoDB: system errors', left: [table.metricSystemErrorsForOperations({ operations, period: PERIOD })] }),
    );
    return dashboard;
  }
}

/** ReplicationLatency (ms) of a global table towards one replica region. */
export function replicationLatency(table: ITable, receivingRegion: string): Metric {
  return new Metric({
    namespace: 'AWS/DynamoDB',
    metricName: 'ReplicationLatency',
    dimensionsMap: { TableName: table.tableName, ReceivingRegion: receivingRegion },
    period: PERIOD,
    statistic: 'Average',
  });
}
