// The CDK app's template, as `npx cdk synth` builds it (cdk.json's context),
// checked property by property: the table, the functions, their URLs, IAM
// statements exactly, the schedule, alarms, outputs; cdk-nag's AwsSolutions
// pack; and the real reader and admin handlers run on the local DynamoDB
// with only the calls their roles allow. Synthesized once (without running
// esbuild: test/infra-bundle.test.ts covers the bundles) and shared; the
// variants at the end synthesize small apps of their own.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Duration, RemovalPolicy, Stack, Validations, type App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { parse as parseToml } from 'smol-toml';
import { CloudTable } from '../infra/cloudtable.js';
import type { UrlFunction } from '../infra/url-function.js';
import { ADMIN_LIMITS, ADMIN_PREFIX } from '../common/contract/admin.js';
import { createAdmin, type Admin } from '../lambda/admin/handler.js';
import { LOCAL_TABLE_NAME } from '../lambda/local/backend.js';
import { ensureTable, startEngine, type Engine } from '../lambda/local/dynalite-engine.js';
import { serveFunctionUrl, type RunningServer } from '../lambda/local/http-server.js';
import { createLookupHandler } from '../lambda/lookup.js';
import { mayRead, READ_ACCESS_ENV, readAccessFromEnv } from '../lambda/read-access.js';
import { Store } from '../lambda/store/store.js';
import type { AdminClient } from '../proxy/admin/client.js';
import { buildConfig, defaultConfig } from '../proxy/config.js';
import type { HttpUpstream } from '../proxy/upstream/client.js';
import { TEST_CREDENTIALS, TestClock, testAdminClient, testReader } from './helpers/backend.js';
import { emptyStack, logicalId, roleLimitedClient, synthCloudTableApp } from './helpers/infra.js';
import { REPLICA_REGIONS_ENV } from '../infra/cloudtable.js';
import { RegionalReaderStack } from '../infra/regional-reader.js';

type Resources = Record<string, { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string; UpdateReplacePolicy?: string }>;
interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
  Principal?: unknown;
}

/** Every DynamoDB operation the functions call, for the table's per-operation alarms. */
const TABLE_OPERATIONS = ['BatchGetItem', 'BatchWriteItem', 'DeleteItem', 'GetItem', 'PutItem', 'Query', 'UpdateItem'];

const ref = (id: string) => ({ Ref: id });
const arnOf = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
/** Statements with their actions as sorted arrays, so the order CDK emits them in does not matter. */
const normalized = (statements: Statement[]) => statements.map((s) => ({ ...s, Action: [s.Action].flat().sort() }));

/** What cdk-nag's AwsSolutions pack finds in an app when blind to acknowledgments: "rule construct-path" lines, sorted. */
function blindFindings(app: App): string[] {
  const blind = new AwsSolutionsChecks();
  (blind as unknown as { isAcknowledged(): boolean }).isAcknowledged = () => false;
  return blind
    .validateScope(app)
    .violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} ${(r.constructPath ?? '').replace(/\/Resource$/, '')}`))
    .sort();
}

function resourcesOf(template: Template, type: string): Resources {
  return template.findResources(type) as Resources;
}

/** Every statement of every inline policy attached to a role. */
function roleStatements(template: Template, roleId: string): Statement[] {
  return Object.values(resourcesOf(template, 'AWS::IAM::Policy'))
    .filter((p) => same(p.Properties.Roles, [ref(roleId)]))
    .flatMap((p) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}

/** Invoking functions through their URLs only (CDK merges the statements of several functions into one per action). */
function invokeThroughUrlOnly(...fnIds: string[]): Statement[] {
  const resource = fnIds.length === 1 ? arnOf(fnIds[0]!) : fnIds.map(arnOf);
  return [
    { Effect: 'Allow', Action: 'lambda:InvokeFunctionUrl', Resource: resource, Condition: { StringEquals: { 'lambda:FunctionUrlAuthType': 'AWS_IAM' } } },
    { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: resource, Condition: { Bool: { 'lambda:InvokedViaFunctionUrl': 'true' } } },
  ];
}

const s = synthCloudTableApp();
const ct = s.stack.cloudTable;
const ids = {
  table: logicalId(ct.table),
  topic: logicalId(s.stack.alarmTopic),
  schedule: logicalId(ct.collectSchedule),
  mailHostPolicy: logicalId(ct.mailHostPolicy),
  operatorPolicy: logicalId(ct.operatorPolicy),
};
const fnIds = (f: UrlFunction) => ({ fn: logicalId(f.fn), role: logicalId(f.role), logs: logicalId(f.logGroup), url: logicalId(f.url) });
const reader = fnIds(ct.reader);
const admin = fnIds(ct.admin);

/** The DynamoDB actions a function's role allows on the table. */
function tableActions(f: UrlFunction): string[] {
  return roleStatements(s.template, logicalId(f.role))
    .filter((st) => same(st.Resource, arnOf(ids.table)))
    .flatMap((st) => [st.Action].flat());
}

describe('infra: the deployed stack', () => {
  it('keeps everything in one DynamoDB table keyed as the store lays items out: on demand, PITR, deletion protection, retained', () => {
    s.template.resourceCountIs('AWS::DynamoDB::Table', 1);
    s.template.resourceCountIs('AWS::DynamoDB::GlobalTable', 0);
    const table = resourcesOf(s.template, 'AWS::DynamoDB::Table')[ids.table]!;
    assert.equal(table.DeletionPolicy, 'Retain');
    assert.equal(table.UpdateReplacePolicy, 'Retain');
    // No TimeToLiveSpecification: the store expires nothing by TTL (leases and garbage are explicit items).
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

  for (const [name, f, memory, timeout] of [
    ['reader', reader, 512, 3],
    ['admin', admin, 1024, 60],
  ] as const) {
    it(`runs the ${name} on Node.js 22, arm64, ${memory} MB, ${timeout} s, source maps, its own log group kept 30 days`, () => {
      const fn = resourcesOf(s.template, 'AWS::Lambda::Function')[f.fn]!.Properties;
      assert.equal(fn.Runtime, 'nodejs22.x');
      assert.deepEqual(fn.Architectures, ['arm64']);
      assert.equal(fn.Handler, 'index.handler');
      assert.equal(fn.MemorySize, memory);
      assert.equal(fn.Timeout, timeout);
      assert.deepEqual(fn.Environment, { Variables: { TABLE_NAME: ref(ids.table), NODE_OPTIONS: '--enable-source-maps' } });
      assert.deepEqual(fn.Role, arnOf(f.role));
      assert.deepEqual(fn.LoggingConfig, { LogGroup: ref(f.logs) });
      const logs = resourcesOf(s.template, 'AWS::Logs::LogGroup')[f.logs]!;
      assert.deepEqual([logs.Properties.RetentionInDays, logs.DeletionPolicy], [30, 'Retain']);
    });
  }

  it('times the reader out before the proxy deadline, so Lambda ends a stuck call before the mail host gives up', () => {
    const fn = resourcesOf(s.template, 'AWS::Lambda::Function')[reader.fn]!.Properties;
    assert.ok((fn.Timeout as number) * 1000 < defaultConfig().upstream.deadlineMs);
  });

  it('puts each function behind a Function URL with AWS_IAM auth; the only resource policy lets the schedule run the admin function', () => {
    const urls = resourcesOf(s.template, 'AWS::Lambda::Url');
    assert.deepEqual(Object.keys(urls).sort(), [reader.url, admin.url].sort());
    for (const [id, f] of [
      [reader.url, reader],
      [admin.url, admin],
    ] as const) {
      assert.deepEqual(urls[id]!.Properties, { AuthType: 'AWS_IAM', TargetFunctionArn: arnOf(f.fn) });
    }
    assert.deepEqual(
      Object.values(resourcesOf(s.template, 'AWS::Lambda::Permission')).map((p) => p.Properties),
      [{ Action: 'lambda:InvokeFunction', FunctionName: arnOf(admin.fn), Principal: 'events.amazonaws.com', SourceArn: arnOf(ids.schedule) }],
    );
  });

  it('lets the reader read the table (GetItem, BatchGetItem, Query) and write its own logs, nothing else', () => {
    assert.deepEqual(
      normalized(roleStatements(s.template, reader.role)),
      normalized([
        { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: arnOf(reader.logs) },
        { Effect: 'Allow', Action: ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:Query'], Resource: arnOf(ids.table) },
      ]),
    );
  });

  it('lets the admin function make the item calls of a transaction and of collection, and write its own logs, nothing else', () => {
    assert.deepEqual(
      normalized(roleStatements(s.template, admin.role)),
      normalized([
        { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: arnOf(admin.logs) },
        {
          Effect: 'Allow',
          Action: ['dynamodb:BatchWriteItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
          Resource: arnOf(ids.table),
        },
      ]),
    );
  });

  it('gives both roles to Lambda alone, with no managed policy', () => {
    for (const f of [reader, admin]) {
      const role = resourcesOf(s.template, 'AWS::IAM::Role')[f.role]!.Properties;
      assert.equal(role.ManagedPolicyArns, undefined, 'AWSLambdaBasicExecutionRole would write to every log group');
      assert.deepEqual((role.AssumeRolePolicyDocument as { Statement: Statement[] }).Statement, [
        { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } },
      ]);
    }
  });

  it('gives mail hosts a managed policy that only invokes the reader, and operators one that only invokes the admin function and the reader, through their URLs', () => {
    const policies = resourcesOf(s.template, 'AWS::IAM::ManagedPolicy');
    assert.deepEqual(Object.keys(policies).sort(), [ids.mailHostPolicy, ids.operatorPolicy].sort());
    for (const [id, statements] of [
      [ids.mailHostPolicy, invokeThroughUrlOnly(reader.fn)],
      // cloudtable load confirms keys and cloudtable status reads generations through the reader.
      [ids.operatorPolicy, invokeThroughUrlOnly(admin.fn, reader.fn)],
    ] as const) {
      const policy = policies[id]!.Properties;
      assert.deepEqual((policy.PolicyDocument as { Statement: Statement[] }).Statement, statements);
      // Attached by the operator, to the principals of their choosing.
      assert.deepEqual([policy.Roles, policy.Users, policy.Groups], [undefined, undefined, undefined]);
    }
  });

  it('runs the admin function every 5 minutes to collect old generations', () => {
    const rule = resourcesOf(s.template, 'AWS::Events::Rule')[ids.schedule]!.Properties;
    assert.equal(rule.ScheduleExpression, 'rate(5 minutes)');
    assert.equal(rule.State, 'ENABLED');
    assert.deepEqual(rule.Targets, [{ Arn: arnOf(admin.fn), Id: 'Target0' }]);
    assert.equal(rule.EventPattern, undefined);
  });

  it('alarms on each function failing, throttled, answering 5xx, slow at p99, and on DynamoDB throttling and system errors; all notify the topic', () => {
    const alarms = Object.values(resourcesOf(s.template, 'AWS::CloudWatch::Alarm')).map((a) => a.Properties);
    for (const [f, p99Ms] of [
      [reader, 1000],
      [admin, 48_000],
    ] as const) {
      const alarm = (metric: string) => alarms.find((a) => a.MetricName === metric && same(a.Dimensions, [{ Name: 'FunctionName', Value: ref(f.fn) }]));
      for (const metric of ['Errors', 'Throttles', 'Url5xxCount']) {
        const a = alarm(metric);
        assert.ok(a, `${metric} alarm of ${f.fn}`);
        assert.deepEqual([a.Namespace, a.Statistic, a.ComparisonOperator, a.Threshold], ['AWS/Lambda', 'Sum', 'GreaterThanOrEqualToThreshold', 1]);
      }
      const p99 = alarm('Duration');
      assert.ok(p99);
      assert.deepEqual([p99.ExtendedStatistic, p99.ComparisonOperator, p99.Threshold], ['p99', 'GreaterThanThreshold', p99Ms]);
    }

    for (const metric of ['ThrottledRequests', 'SystemErrors']) {
      const a = alarms.find((x) => JSON.stringify(x.Metrics ?? []).includes(`"MetricName":"${metric}"`));
      assert.ok(a, `DynamoDB ${metric} alarm`);
      const stats = (a.Metrics as Array<{ MetricStat?: { Metric: { Namespace: string; Dimensions: Array<{ Name: string; Value: unknown }> } } }>)
        .filter((m) => m.MetricStat)
        .map((m) => m.MetricStat!.Metric);
      const operations = stats.map((m) => m.Dimensions.find((d) => d.Name === 'Operation')!.Value).sort();
      assert.deepEqual(operations, TABLE_OPERATIONS, `${metric} covers every operation the functions call`);
      for (const m of stats) {
        assert.equal(m.Namespace, 'AWS/DynamoDB');
        assert.deepEqual(m.Dimensions.find((d) => d.Name === 'TableName')!.Value, ref(ids.table));
      }
      assert.equal(a.Threshold, 1);
    }
    assert.equal(alarms.length, 10);
    for (const a of alarms) {
      assert.deepEqual(a.AlarmActions, [ref(ids.topic)]);
      assert.equal(a.TreatMissingData, 'notBreaching');
    }
    s.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    s.template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
  });

  it('outputs the URLs, region, table name and policies, and the upstream and admin lines the CLI parses', () => {
    const outputs = s.template.toJSON().Outputs as Record<string, { Value: unknown }>;
    const value = (key: string) => outputs[key]?.Value;
    assert.deepEqual(value('ReaderUrl'), { 'Fn::GetAtt': [reader.url, 'FunctionUrl'] });
    assert.deepEqual(value('AdminUrl'), { 'Fn::GetAtt': [admin.url, 'FunctionUrl'] });
    assert.deepEqual(value('Region'), ref('AWS::Region'));
    assert.deepEqual(value('TableName'), ref(ids.table));
    assert.deepEqual(value('MailHostPolicyArn'), ref(ids.mailHostPolicy));
    assert.deepEqual(value('OperatorPolicyArn'), ref(ids.operatorPolicy));
    assert.deepEqual(value('AlarmTopicArn'), ref(ids.topic));

    // CloudFormation fills in the URLs (with their trailing slash) and the region at deploy time.
    const deployed = (part: unknown): string => {
      if (same(part, ref('AWS::Region'))) return 'eu-west-1';
      if (same(part, value('ReaderUrl'))) return 'https://readerabcdefghijklmnopqrstuvwx.lambda-url.eu-west-1.on.aws/';
      if (same(part, value('AdminUrl'))) return 'https://adminabcdefghijklmnopqrstuvwxy.lambda-url.eu-west-1.on.aws/';
      throw new Error(`unexpected ${JSON.stringify(part)}`);
    };
    const line = (key: string): string => {
      const join = value(key) as { 'Fn::Join': [string, unknown[]] };
      const text = join['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : deployed(part))).join(join['Fn::Join'][0]);
      assert.doesNotMatch(text, /\n/, 'a stack output is one line');
      return text;
    };
    // A mail host's file is the ProxyConfig line; an operator's adds the AdminConfig line.
    const mailHost = buildConfig(parseToml(line('ProxyConfig')));
    assert.equal(mailHost.upstream.url, 'https://readerabcdefghijklmnopqrstuvwx.lambda-url.eu-west-1.on.aws');
    assert.equal(mailHost.upstream.region, 'eu-west-1');
    const operator = buildConfig(parseToml(`${line('ProxyConfig')}\n${line('AdminConfig')}\n`));
    assert.equal(operator.upstream.url, mailHost.upstream.url);
    assert.equal(operator.admin.url, 'https://adminabcdefghijklmnopqrstuvwxy.lambda-url.eu-west-1.on.aws');
    assert.equal(operator.admin.region, 'eu-west-1');
  });

  it('passes the AwsSolutions checks; each acknowledged finding is real and has a reason', () => {
    const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(s.app);
    assert.deepEqual(report.violations, [], JSON.stringify(report.violations, null, 2));

    // The same pack blind to acknowledgments: what it finds must be exactly
    // what the code acknowledges, so no acknowledgment is stale or too wide.
    const findings = blindFindings(s.app);
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
    assert.deepEqual(findings, [`AwsSolutions-L1 ${ct.admin.fn.node.path}`, `AwsSolutions-L1 ${ct.reader.fn.node.path}`].sort());
  });
});

describe('infra: each role allows what its function calls, and nothing it does not', () => {
  // The real handlers over real HTTP, on the local DynamoDB, each through a
  // client that refuses the calls its role in the template does not allow.
  const clock = new TestClock();
  const used = { reader: new Set<string>(), admin: new Set<string>() };
  const quiet = { info: () => {}, error: () => {} };
  const table = 'aliases';
  let engine: Engine;
  let http: RunningServer;
  let adminFn: Admin;
  let adminClient: AdminClient;
  let readerClient: HttpUpstream;

  before(async () => {
    engine = await startEngine();
    await ensureTable(engine.client, LOCAL_TABLE_NAME);
    const store = (f: UrlFunction, u: Set<string>) => new Store(roleLimitedClient(engine.endpoint, tableActions(f), u), LOCAL_TABLE_NAME, {}, clock.now);
    adminFn = createAdmin(store(ct.admin, used.admin), { limits: { graceMs: 1000, keepPreviousMs: 2000 }, log: quiet });
    http = await serveFunctionUrl({
      mounts: [
        { prefix: '/', handler: createLookupHandler(store(ct.reader, used.reader)) },
        { prefix: ADMIN_PREFIX, handler: adminFn.handler, maxBodyBytes: ADMIN_LIMITS.maxBodyBytes },
      ],
      credentials: TEST_CREDENTIALS,
    });
    adminClient = testAdminClient(http.url);
    readerClient = testReader(http.url);
  });

  after(async () => {
    await adminClient.close();
    await readerClient.close();
    await http.close();
    await engine.close();
  });

  const entries = (prefix: string) => Array.from({ length: 30 }, (_, i) => ({ key: `k${i}`, value: `${prefix}${i}`, line: i + 1 }));

  async function load(prefix: string): Promise<void> {
    const b = await adminClient.begin({ table, service: 'alias', owner: 'infra-test' });
    await adminClient.send(table, b.txn, entries(prefix));
    assert.ok((await adminClient.validate(table, b.txn, 30)).ok);
    await adminClient.apply(table, b.txn);
    await adminClient.commit(table, b.txn);
  }

  it('the admin function loads, refuses, rolls back, lists and collects with its grants, and needs every one of them', async () => {
    await adminClient.hello();
    await load('one');
    await load('two');
    await load('three');
    const b = await adminClient.begin({ table, owner: 'infra-test' });
    await adminClient.send(table, b.txn, [{ key: 'cr', value: 'bad\rvalue', line: 1 }]);
    assert.equal((await adminClient.validate(table, b.txn, 1)).ok, false);
    await adminClient.rollback(table, b.txn);
    assert.equal((await adminClient.list({ table, limit: 5 })).entries.length, 5);
    assert.equal((await adminClient.status()).tables.length, 1);
    clock.advance(10_000);
    // What the schedule runs: old generations and the rolled-back shadow are deleted.
    const swept = await adminFn.collect(10_000);
    assert.ok(swept.generations >= 2, JSON.stringify(swept));
    assert.deepEqual([...used.admin].sort(), tableActions(ct.admin).map((a) => a.replace('dynamodb:', '')).sort());
  });

  it('the reader answers lookups and listings with its grants, and needs every one of them', async () => {
    const r = await readerClient.lookup(table, [{ service: 'alias', key: 'k1' }, { service: 'alias', key: 'nobody' }], 5000);
    assert.deepEqual(r.results, [{ s: 'found', value: 'three1' }, { s: 'not-found' }]);
    assert.equal((await readerClient.list('entries', table, undefined, 5000)).entries.length, 30);
    await readerClient.list('patterns', table, undefined, 5000);
    assert.deepEqual([...used.reader].sort(), tableActions(ct.reader).map((a) => a.replace('dynamodb:', '')).sort());
  });

  it('a call outside a role is refused, as AWS would refuse it', async () => {
    const withReaderRole = new Store(roleLimitedClient(engine.endpoint, tableActions(ct.reader), new Set()), LOCAL_TABLE_NAME, {}, clock.now);
    await assert.rejects(withReaderRole.registerTable('intruder'), { name: 'AccessDeniedException' });
  });
});

describe('infra: options', () => {
  it('adds the dashboard with -c dashboard=true, and subscribes -c alarmEmail', () => {
    const { template } = synthCloudTableApp({ context: { dashboard: 'true', alarmEmail: 'postmaster@example.org' } });
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'postmaster@example.org' });
  });

  it('is a construct users put in their own stacks, with their own sizing, limits and removal policy', () => {
    const stack = emptyStack();
    const tables = new CloudTable(stack, 'MailTables', {
      tableRemovalPolicy: RemovalPolicy.DESTROY,
      deletionProtection: false,
      reader: { memorySize: 1024, timeout: Duration.seconds(2) },
      admin: { timeout: Duration.minutes(2) },
      adminClientTimeout: Duration.minutes(3),
      transactions: { lease: Duration.minutes(1), grace: Duration.seconds(45), keepPrevious: Duration.days(2), maxEntries: 500_000 },
      dashboard: true,
    });
    const template = Template.fromStack(stack);
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete', Properties: { DeletionProtectionEnabled: false } });
    const functions = resourcesOf(template, 'AWS::Lambda::Function');
    const fn = functions[logicalId(tables.reader.fn)]!.Properties;
    assert.deepEqual([fn.MemorySize, fn.Timeout], [1024, 2]);
    const adminFn = functions[logicalId(tables.admin.fn)]!.Properties;
    assert.equal(adminFn.Timeout, 120);
    assert.deepEqual((adminFn.Environment as { Variables: Record<string, unknown> }).Variables, {
      TABLE_NAME: ref(logicalId(tables.table)),
      NODE_OPTIONS: '--enable-source-maps',
      CLOUDTABLE_LEASE_S: '60',
      CLOUDTABLE_GRACE_S: '45',
      CLOUDTABLE_KEEP_PREVIOUS_S: '172800',
      CLOUDTABLE_MAX_ENTRIES: '500000',
    });
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    for (const a of Object.values(resourcesOf(template, 'AWS::CloudWatch::Alarm'))) assert.equal(a.Properties.AlarmActions, undefined);
  });

  it('per-table read access: the reader function gets the rules, checked at synth', () => {
    const stack = emptyStack();
    const access = { passwd: ['arn:aws:iam::111122223333:role/mail-1', '444455556666'], '*': ['arn:aws:iam::111122223333:role/mail-1', 'arn:aws:iam::111122223333:role/mail-2'] };
    const tables = new CloudTable(stack, 'T', { access });
    const vars = (fn: UrlFunction) =>
      (resourcesOf(Template.fromStack(Stack.of(fn.fn)), 'AWS::Lambda::Function')[logicalId(fn.fn)]!.Properties.Environment as { Variables: Record<string, string> }).Variables;
    const rules = readAccessFromEnv({ [READ_ACCESS_ENV]: vars(tables.reader)[READ_ACCESS_ENV] });
    assert.deepEqual(rules, access);
    assert.equal(vars(tables.admin)[READ_ACCESS_ENV], undefined, 'the admin function has no read rules');
    // What the reader then decides for sessions of the roles, as the request context names them.
    const session = (role: string) => ({ accessKey: 'ASIA', accountId: '111122223333', callerId: 'AROA:i-1', userArn: `arn:aws:sts::111122223333:assumed-role/${role}/i-1`, userId: 'AROA:i-1' });
    assert.deepEqual([mayRead(rules, 'passwd', session('mail-1')), mayRead(rules, 'passwd', session('mail-2')), mayRead(rules, 'aliases', session('mail-2'))], [true, false, true]);
    assert.equal(mayRead(rules, 'aliases', session('backup')), false);
    // Without the map, no rules: every mail host reads every table.
    assert.equal(vars(new CloudTable(emptyStack(), 'U', {}).reader)[READ_ACCESS_ENV], undefined);
    assert.throws(() => new CloudTable(emptyStack(), 'V', { access: { passwd: ['mail-1'] } }), /"mail-1" is not a role ARN, user ARN or account id/);
    assert.throws(() => new CloudTable(emptyStack(), 'W', { access: { 'no such': [] } }), /not a table name/);
  });

  it('refuses function timeouts that are not below their clients\' (the proxy deadline, the admin client timeout)', () => {
    assert.throws(() => new CloudTable(emptyStack(), 'T', { reader: { timeout: Duration.seconds(5) } }), /reader timeout 5000 ms must be below the proxy deadline 5000 ms/);
    assert.throws(
      () => new CloudTable(emptyStack(), 'T', { proxyDeadline: Duration.seconds(2), reader: { timeout: Duration.seconds(3) } }),
      /must be below the proxy deadline 2000 ms/,
    );
    assert.throws(() => new CloudTable(emptyStack(), 'T', { admin: { timeout: Duration.minutes(2) } }), /admin timeout 120000 ms must be below the admin client timeout 120000 ms/);
    assert.doesNotThrow(() => new CloudTable(emptyStack(), 'T', { admin: { timeout: Duration.minutes(2) }, adminClientTimeout: Duration.minutes(5) }));
  });

  it('refuses transaction limits the admin function would refuse at start', () => {
    assert.throws(
      () => new CloudTable(emptyStack(), 'T', { transactions: { grace: Duration.minutes(5), keepPrevious: Duration.minutes(1) } }),
      /CLOUDTABLE_KEEP_PREVIOUS_S must be 0 or at least CLOUDTABLE_GRACE_S/,
    );
    assert.throws(() => new CloudTable(emptyStack(), 'T', { transactions: { lease: Duration.seconds(2) } }), /CLOUDTABLE_LEASE_S must be an integer from 5/);
  });
});

describe('infra: two regions (-c regions=eu-west-1,eu-central-1)', () => {
  const two = synthCloudTableApp({ context: { regions: 'eu-west-1,eu-central-1' } });
  const home = two.stack;
  const homeCt = home.cloudTable;
  const remote = two.app.node.children.find((c): c is RegionalReaderStack => c instanceof RegionalReaderStack)!;
  const remoteTemplate = Template.fromStack(remote);
  const remoteReader = remote.regional.reader;
  const accountArn = (service: string, region: string, resource: unknown[]) => ({
    'Fn::Join': ['', [`arn:aws:${service}:${region}:`, ref('AWS::AccountId'), ...resource]],
  });
  const remoteReaderArn = accountArn('lambda', 'eu-central-1', [':function:CloudTable-eu-central-1-reader']);

  it('is a home stack in eu-west-1 and a reader stack in eu-central-1, deployed first', () => {
    assert.deepEqual([home.region, remote.region, remote.stackName], ['eu-west-1', 'eu-central-1', 'CloudTable-eu-central-1']);
    assert.ok(home.dependencies.includes(remote));
    assert.deepEqual(homeCt.regions, ['eu-west-1', 'eu-central-1']);
  });

  it('keeps the table as a global table with a replica in each region: on demand, PITR and deletion protection everywhere, retained', () => {
    two.template.resourceCountIs('AWS::DynamoDB::Table', 0);
    const tables = resourcesOf(two.template, 'AWS::DynamoDB::GlobalTable');
    assert.equal(Object.keys(tables).length, 1);
    const table = Object.values(tables)[0]!;
    assert.equal(table.DeletionPolicy, 'Retain');
    assert.equal(table.Properties.TableName, 'CloudTable-tables');
    assert.equal(table.Properties.BillingMode, 'PAY_PER_REQUEST');
    const replicas = table.Properties.Replicas as Array<Record<string, unknown>>;
    assert.deepEqual(replicas.map((r) => r.Region).sort(), ['eu-central-1', 'eu-west-1']);
    for (const r of replicas) {
      assert.deepEqual([r.DeletionProtectionEnabled, r.PointInTimeRecoverySpecification], [true, { PointInTimeRecoveryEnabled: true }]);
    }
    remoteTemplate.resourceCountIs('AWS::DynamoDB::GlobalTable', 0);
    remoteTemplate.resourceCountIs('AWS::DynamoDB::Table', 0);
  });

  it('has one reader per region reading its local replica, and one admin function, in the home region, that knows the replica regions', () => {
    const homeFns = resourcesOf(two.template, 'AWS::Lambda::Function');
    assert.deepEqual(Object.keys(homeFns).sort(), [logicalId(homeCt.reader.fn), logicalId(homeCt.admin.fn)].sort());
    const remoteFns = resourcesOf(remoteTemplate, 'AWS::Lambda::Function');
    assert.deepEqual(Object.keys(remoteFns), [logicalId(remoteReader.fn)]);
    const fn = remoteFns[logicalId(remoteReader.fn)]!.Properties;
    assert.equal(fn.FunctionName, 'CloudTable-eu-central-1-reader');
    assert.deepEqual(fn.Environment, { Variables: { TABLE_NAME: 'CloudTable-tables', NODE_OPTIONS: '--enable-source-maps' } });
    assert.deepEqual(Object.values(resourcesOf(remoteTemplate, 'AWS::Lambda::Url')).map((u) => u.Properties), [{ AuthType: 'AWS_IAM', TargetFunctionArn: arnOf(logicalId(remoteReader.fn)) }]);
    assert.deepEqual(
      normalized(Object.values(resourcesOf(remoteTemplate, 'AWS::IAM::Policy')).flatMap((p) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement)),
      normalized([
        { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: arnOf(logicalId(remoteReader.logGroup)) },
        { Effect: 'Allow', Action: ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:Query'], Resource: accountArn('dynamodb', 'eu-central-1', [':table/CloudTable-tables']) },
      ]),
    );
    const adminFn = homeFns[logicalId(homeCt.admin.fn)]!.Properties;
    assert.equal((adminFn.Environment as { Variables: Record<string, unknown> }).Variables[REPLICA_REGIONS_ENV], 'eu-central-1');
    const tableId = logicalId(homeCt.table);
    assert.deepEqual(
      normalized(roleStatements(two.template, logicalId(homeCt.admin.role))).slice(1),
      normalized([
        {
          Effect: 'Allow',
          Action: ['dynamodb:BatchWriteItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
          Resource: arnOf(tableId),
        },
        { Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:Query'], Resource: accountArn('dynamodb', 'eu-central-1', [':table/', ref(tableId)]) },
      ]),
    );
  });

  it('gives mail hosts a policy that invokes every region\'s reader, and operators one that adds the admin function, through their URLs only', () => {
    const policies = resourcesOf(two.template, 'AWS::IAM::ManagedPolicy');
    const statements = (c: typeof homeCt.mailHostPolicy) => (policies[logicalId(c)]!.Properties.PolicyDocument as { Statement: Statement[] }).Statement;
    const both = (resources: unknown[]) => [
      { Effect: 'Allow', Action: 'lambda:InvokeFunctionUrl', Resource: resources, Condition: { StringEquals: { 'lambda:FunctionUrlAuthType': 'AWS_IAM' } } },
      { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: resources, Condition: { Bool: { 'lambda:InvokedViaFunctionUrl': 'true' } } },
    ];
    const homeReaderArn = arnOf(logicalId(homeCt.reader.fn));
    assert.deepEqual(statements(homeCt.mailHostPolicy), both([homeReaderArn, remoteReaderArn]));
    assert.deepEqual(statements(homeCt.operatorPolicy), both([arnOf(logicalId(homeCt.admin.fn)), homeReaderArn, remoteReaderArn]));
    remoteTemplate.resourceCountIs('AWS::IAM::ManagedPolicy', 0);
  });

  it('alarms in each region on its reader and its replica, and in the home region on the replication latency to each replica, each to its region\'s topic', () => {
    const homeAlarms = Object.values(resourcesOf(two.template, 'AWS::CloudWatch::Alarm')).map((a) => a.Properties);
    const lag = homeAlarms.filter((a) => a.MetricName === 'ReplicationLatency');
    assert.equal(lag.length, 1);
    assert.deepEqual(lag[0]!.Dimensions, [
      { Name: 'ReceivingRegion', Value: 'eu-central-1' },
      { Name: 'TableName', Value: ref(logicalId(homeCt.table)) },
    ]);
    assert.deepEqual([lag[0]!.Namespace, lag[0]!.Statistic, lag[0]!.Threshold, lag[0]!.AlarmActions], ['AWS/DynamoDB', 'Average', 10_000, [ref(logicalId(home.alarmTopic))]]);
    assert.equal(homeAlarms.length, 11);
    const remoteAlarms = Object.values(resourcesOf(remoteTemplate, 'AWS::CloudWatch::Alarm')).map((a) => a.Properties);
    assert.deepEqual(remoteAlarms.filter((a) => a.MetricName).map((a) => a.MetricName).sort(), ['Duration', 'Errors', 'Throttles', 'Url5xxCount']);
    assert.equal(remoteAlarms.length, 6);
    for (const metric of ['ThrottledRequests', 'SystemErrors']) {
      const a = remoteAlarms.find((x) => JSON.stringify(x.Metrics ?? []).includes(`"MetricName":"${metric}"`));
      assert.ok(a, `replica ${metric} alarm`);
      assert.match(JSON.stringify(a.Metrics), /"Name":"TableName","Value":"CloudTable-tables"/);
    }
    for (const a of remoteAlarms) assert.deepEqual(a.AlarmActions, [ref(logicalId(remote.alarmTopic))]);
  });

  it('outputs a ProxyConfig line listing every region\'s reader, home first', () => {
    const outputs = two.template.toJSON().Outputs as Record<string, { Value: unknown }>;
    const join = outputs.ProxyConfig!.Value as { 'Fn::Join': [string, unknown[]] };
    const urls: Record<string, string> = { eu_west_1: 'https://home.lambda-url.eu-west-1.on.aws/', eu_central_1: 'https://far.lambda-url.eu-central-1.on.aws/' };
    const text = join['Fn::Join'][1]
      .map((part) => {
        if (typeof part === 'string') return part;
        if (same(part, { 'Fn::GetAtt': [logicalId(homeCt.reader.url), 'FunctionUrl'] })) return urls.eu_west_1;
        const o = (part as { 'Fn::GetStackOutput'?: { StackName: string; Region: string } })['Fn::GetStackOutput'];
        assert.deepEqual([o?.StackName, o?.Region], ['CloudTable-eu-central-1', 'eu-central-1']);
        return urls.eu_central_1;
      })
      .join('');
    assert.doesNotMatch(text, /\n/);
    const parsed = parseToml(text) as { upstream: { region: string; endpoints: Array<{ url: string; region: string }> } };
    // The proxy reads it as its endpoints (URLs without the trailing slash).
    assert.deepEqual(buildConfig(parsed).upstream.endpoints, [
      { url: 'https://home.lambda-url.eu-west-1.on.aws', region: 'eu-west-1' },
      { url: 'https://far.lambda-url.eu-central-1.on.aws', region: 'eu-central-1' },
    ]);
    assert.deepEqual(JSON.parse(JSON.stringify(parsed.upstream)), {
      region: 'eu-west-1',
      endpoints: [
        { url: urls.eu_west_1, region: 'eu-west-1' },
        { url: urls.eu_central_1, region: 'eu-central-1' },
      ],
    });
  });

  it('passes the AwsSolutions checks in every stack; the only findings are the acknowledged runtime pins', () => {
    const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(two.app);
    assert.deepEqual(report.violations, [], JSON.stringify(report.violations, null, 2));
    const findings = blindFindings(two.app);
    assert.deepEqual(findings, [homeCt.admin.fn, homeCt.reader.fn, remoteReader.fn].map((f) => `AwsSolutions-L1 ${f.node.path}`).sort());
  });

  it('stays one stack with a regional table for one region, and refuses a misnamed or repeated region', () => {
    const one = synthCloudTableApp({ context: { regions: 'eu-west-1' } });
    assert.equal(one.app.node.children.filter((c) => c instanceof RegionalReaderStack).length, 0);
    assert.equal(one.stack.region, 'eu-west-1');
    one.template.resourceCountIs('AWS::DynamoDB::Table', 1);
    one.template.resourceCountIs('AWS::DynamoDB::GlobalTable', 0);
    assert.throws(() => synthCloudTableApp({ context: { regions: 'eu-west-1,moon' } }), /moon is not an AWS region name/);
    assert.throws(() => synthCloudTableApp({ context: { regions: 'eu-west-1,eu-west-1' } }), /name a region twice/);
  });
});
