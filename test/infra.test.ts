// The CDK app's template, as `npx cdk synth` builds it (cdk.json's context),
// checked property by property: the table, the functions, their URLs, IAM
// statements exactly, alarms, outputs; and cdk-nag's AwsSolutions pack.
// Synthesized once (without running esbuild: test/infra-bundle.test.ts
// covers the bundles) and shared; the variants below synthesize small apps.

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { parse as parseToml } from 'smol-toml';
import { CloudTable } from '../infra/cloudtable.js';
import { buildConfig, defaultConfig } from '../proxy/config.js';
import { emptyStack, logicalId, synthCloudTableApp, type Synthesized } from './helpers/infra.js';

type Resources = Record<string, { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string; UpdateReplacePolicy?: string }>;
interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
  Principal?: unknown;
}

/** Every DynamoDB operation the functions call. */
const TABLE_OPERATIONS = ['BatchGetItem', 'GetItem', 'Query'];

const ref = (id: string) => ({ Ref: id });
const arnOf = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });
/** Statements with their actions as sorted arrays, so the order CDK emits them in does not matter. */
const normalized = (statements: Statement[]) =>
  statements.map((s) => ({ ...s, Action: [s.Action].flat().sort() }));

function resourcesOf(template: Template, type: string): Resources {
  return template.findResources(type) as Resources;
}

/** Every statement of every inline policy attached to a role. */
function roleStatements(template: Template, roleId: string): Statement[] {
  return Object.values(resourcesOf(template, 'AWS::IAM::Policy'))
    .filter((p) => JSON.stringify(p.Properties.Roles) === JSON.stringify([ref(roleId)]))
    .flatMap((p) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}

describe('infra: the deployed stack', () => {
  let s: Synthesized;
  let ids: { table: string; readerFn: string; readerRole: string; readerLogs: string; topic: string; mailHostPolicy: string };

  before(() => {
    s = synthCloudTableApp();
    const { cloudTable } = s.stack;
    ids = {
      table: logicalId(cloudTable.table),
      readerFn: logicalId(cloudTable.reader.fn),
      readerRole: logicalId(cloudTable.reader.role),
      readerLogs: logicalId(cloudTable.reader.logGroup),
      topic: logicalId(s.stack.alarmTopic),
      mailHostPolicy: logicalId(cloudTable.mailHostPolicy),
    };
  });

  it('keeps everything in one DynamoDB table keyed as the store lays items out: on demand, PITR, deletion protection, retained', () => {
    s.template.resourceCountIs('AWS::DynamoDB::Table', 1);
    s.template.resourceCountIs('AWS::DynamoDB::GlobalTable', 0);
    const table = resourcesOf(s.template, 'AWS::DynamoDB::Table')[ids.table]!;
    assert.equal(table.DeletionPolicy, 'Retain');
    assert.equal(table.UpdateReplacePolicy, 'Retain');
    assert.deepEqual(table.Properties, {
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      DeletionProtectionEnabled: true,
    });
  });

  it('runs the reader on Node.js 22, arm64, bounded memory, a timeout below the proxy deadline, source maps, its own log group', () => {
    const fn = resourcesOf(s.template, 'AWS::Lambda::Function')[ids.readerFn]!.Properties;
    assert.equal(fn.Runtime, 'nodejs22.x');
    assert.deepEqual(fn.Architectures, ['arm64']);
    assert.equal(fn.Handler, 'index.handler');
    assert.equal(fn.MemorySize, 512);
    assert.equal(fn.Timeout, 3);
    assert.ok((fn.Timeout as number) * 1000 < defaultConfig().upstream.deadlineMs, 'the reader times out before the proxy deadline');
    assert.deepEqual(fn.Environment, { Variables: { TABLE_NAME: ref(ids.table), NODE_OPTIONS: '--enable-source-maps' } });
    assert.deepEqual(fn.Role, arnOf(ids.readerRole));
    assert.deepEqual(fn.LoggingConfig, { LogGroup: ref(ids.readerLogs) });
    s.template.hasResource('AWS::Logs::LogGroup', { Properties: { RetentionInDays: 30 }, DeletionPolicy: 'Retain' });
  });

  it('puts every function behind a Function URL with AWS_IAM auth, and grants no one through a resource policy', () => {
    const urls = Object.values(resourcesOf(s.template, 'AWS::Lambda::Url'));
    assert.ok(urls.length >= 1);
    for (const url of urls) assert.equal(url.Properties.AuthType, 'AWS_IAM');
    assert.ok(urls.some((u) => JSON.stringify(u.Properties.TargetFunctionArn) === JSON.stringify(arnOf(ids.readerFn))));
    for (const url of urls) assert.equal(url.Properties.Cors, undefined);
    s.template.resourceCountIs('AWS::Lambda::Permission', 0);
  });

  it('lets the reader read the table (GetItem, BatchGetItem, Query) and write its own logs, nothing else', () => {
    assert.deepEqual(
      normalized(roleStatements(s.template, ids.readerRole)),
      normalized([
        { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: arnOf(ids.readerLogs) },
        { Effect: 'Allow', Action: ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:Query'], Resource: arnOf(ids.table) },
      ]),
    );
    const role = resourcesOf(s.template, 'AWS::IAM::Role')[ids.readerRole]!.Properties;
    assert.equal(role.ManagedPolicyArns, undefined, 'no managed policy (AWSLambdaBasicExecutionRole writes to every log group)');
    assert.deepEqual((role.AssumeRolePolicyDocument as { Statement: Statement[] }).Statement, [
      { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } },
    ]);
  });

  it('gives mail hosts a managed policy that only invokes the reader, and only through its URL', () => {
    const policy = resourcesOf(s.template, 'AWS::IAM::ManagedPolicy')[ids.mailHostPolicy]!.Properties;
    assert.deepEqual((policy.PolicyDocument as { Statement: Statement[] }).Statement, [
      {
        Effect: 'Allow',
        Action: 'lambda:InvokeFunctionUrl',
        Resource: arnOf(ids.readerFn),
        Condition: { StringEquals: { 'lambda:FunctionUrlAuthType': 'AWS_IAM' } },
      },
      {
        Effect: 'Allow',
        Action: 'lambda:InvokeFunction',
        Resource: arnOf(ids.readerFn),
        Condition: { Bool: { 'lambda:InvokedViaFunctionUrl': 'true' } },
      },
    ]);
    assert.equal(policy.Roles, undefined, 'attached by the operator, to the mail hosts of their choosing');
    assert.equal(policy.Users, undefined);
  });

  it('alarms on the reader failing, throttled, answering 5xx, slow at p99, and on DynamoDB throttling and system errors; all notify the topic', () => {
    const alarms = Object.values(resourcesOf(s.template, 'AWS::CloudWatch::Alarm')).map((a) => a.Properties);
    const readerAlarm = (metric: string) =>
      alarms.find((a) => a.MetricName === metric && JSON.stringify(a.Dimensions) === JSON.stringify([{ Name: 'FunctionName', Value: ref(ids.readerFn) }]));
    for (const metric of ['Errors', 'Throttles', 'Url5xxCount']) {
      const a = readerAlarm(metric);
      assert.ok(a, `reader ${metric} alarm`);
      assert.equal(a.Namespace, 'AWS/Lambda');
      assert.equal(a.Statistic, 'Sum');
      assert.equal(a.ComparisonOperator, 'GreaterThanOrEqualToThreshold');
      assert.equal(a.Threshold, 1);
    }
    const p99 = readerAlarm('Duration');
    assert.ok(p99);
    assert.equal(p99.ExtendedStatistic, 'p99');
    assert.equal(p99.ComparisonOperator, 'GreaterThanThreshold');
    assert.equal(p99.Threshold, 1000);

    const dynamo = (metric: string) => alarms.find((a) => JSON.stringify(a.Metrics ?? []).includes(`"MetricName":"${metric}"`));
    for (const metric of ['ThrottledRequests', 'SystemErrors']) {
      const a = dynamo(metric);
      assert.ok(a, `DynamoDB ${metric} alarm`);
      const stats = (a.Metrics as Array<{ MetricStat?: { Metric: { Dimensions: Array<{ Name: string; Value: unknown }> } } }>).filter((m) => m.MetricStat);
      const operations = stats.map((m) => m.MetricStat!.Metric.Dimensions.find((d) => d.Name === 'Operation')!.Value).sort();
      assert.deepEqual(operations, TABLE_OPERATIONS, `${metric} covers every operation the functions call`);
      for (const m of stats) assert.deepEqual(m.MetricStat!.Metric.Dimensions.find((d) => d.Name === 'TableName')!.Value, ref(ids.table));
      assert.equal(a.Threshold, 1);
    }
    for (const a of alarms) {
      assert.deepEqual(a.AlarmActions, [ref(ids.topic)]);
      assert.equal(a.TreatMissingData, 'notBreaching');
    }
    s.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    s.template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
  });

  it('outputs the URL, region and table name, and a [upstream] line the proxy parses', () => {
    const outputs = s.template.toJSON().Outputs as Record<string, { Value: unknown }>;
    const urlId = logicalId(s.stack.cloudTable.reader.url);
    assert.deepEqual(outputs.ReaderUrl!.Value, { 'Fn::GetAtt': [urlId, 'FunctionUrl'] });
    assert.deepEqual(outputs.Region!.Value, ref('AWS::Region'));
    assert.deepEqual(outputs.TableName!.Value, ref(ids.table));
    assert.deepEqual(outputs.MailHostPolicyArn!.Value, ref(ids.mailHostPolicy));
    assert.deepEqual(outputs.AlarmTopicArn!.Value, ref(ids.topic));

    // CloudFormation fills in the URL (with its trailing slash) and the region at deploy time.
    const deployed = { url: 'https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws/', region: 'eu-west-1' };
    const join = outputs.ProxyConfig!.Value as { 'Fn::Join': [string, unknown[]] };
    const line = join['Fn::Join'][1]
      .map((part) => {
        if (typeof part === 'string') return part;
        if (JSON.stringify(part) === JSON.stringify(ref('AWS::Region'))) return deployed.region;
        if (JSON.stringify(part) === JSON.stringify(outputs.ReaderUrl!.Value)) return deployed.url;
        throw new Error(`unexpected ${JSON.stringify(part)}`);
      })
      .join(join['Fn::Join'][0]);
    assert.doesNotMatch(line, /\n/);
    const config = buildConfig(parseToml(line));
    assert.equal(config.upstream.url, 'https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws');
    assert.equal(config.upstream.region, 'eu-west-1');
  });

  it('passes the AwsSolutions checks; each acknowledged finding is real and has a reason', () => {
    const checks = new AwsSolutionsChecks(undefined, { verbose: true });
    const report = checks.validateScope(s.app);
    assert.deepEqual(report.violations, [], JSON.stringify(report.violations, null, 2));

    // The same pack blind to acknowledgments: what it finds must be exactly
    // what the code acknowledges, so no acknowledgment is stale or too wide.
    const blind = new AwsSolutionsChecks();
    (blind as unknown as { isAcknowledged(): boolean }).isAcknowledged = () => false;
    const findings = blind
      .validateScope(s.app)
      .violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} ${(r.constructPath ?? '').replace(/\/Resource$/, '')}`))
      .sort();
    const acknowledged: string[] = [];
    for (const c of s.app.node.findAll()) {
      for (const entry of c.node.metadata) {
        if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
        for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
          assert.ok(reason.length >= 60, `${id} on ${c.node.path} needs a real reason, not ${JSON.stringify(reason)}`);
          acknowledged.push(`${id.replace(/^annotation::/i, '')} ${c.node.path}`);
        }
      }
    }
    assert.deepEqual(acknowledged.sort(), findings);
    assert.ok(findings.includes(`AwsSolutions-L1 ${s.stack.cloudTable.reader.fn.node.path}`));
  });
});

describe('infra: options', () => {
  it('adds the dashboard with -c dashboard=true, and subscribes -c alarmEmail', () => {
    const { template } = synthCloudTableApp({ context: { dashboard: 'true', alarmEmail: 'postmaster@example.org' } });
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'postmaster@example.org' });
  });

  it('is a construct users put in their own stacks, with their own sizing and removal policy', () => {
    const stack = emptyStack();
    const ct = new CloudTable(stack, 'MailTables', {
      tableRemovalPolicy: RemovalPolicy.DESTROY,
      deletionProtection: false,
      reader: { memorySize: 1024, timeout: Duration.seconds(2) },
      dashboard: true,
    });
    const template = Template.fromStack(stack);
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete', Properties: { DeletionProtectionEnabled: false } });
    const fn = resourcesOf(template, 'AWS::Lambda::Function')[logicalId(ct.reader.fn)]!.Properties;
    assert.equal(fn.MemorySize, 1024);
    assert.equal(fn.Timeout, 2);
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    for (const a of Object.values(resourcesOf(template, 'AWS::CloudWatch::Alarm'))) assert.equal(a.Properties.AlarmActions, undefined);
  });

  it('refuses a reader timeout that is not below the proxy deadline', () => {
    assert.throws(() => new CloudTable(emptyStack(), 'T', { reader: { timeout: Duration.seconds(5) } }), /reader timeout 5000 ms must be below the proxy deadline 5000 ms/);
    assert.throws(
      () => new CloudTable(emptyStack(), 'T', { proxyDeadline: Duration.seconds(2), reader: { timeout: Duration.seconds(3) } }),
      /must be below the proxy deadline 2000 ms/,
    );
  });
});
