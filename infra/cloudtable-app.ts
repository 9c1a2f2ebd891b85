// What `npx cdk synth` builds, in one place so the tests build exactly the
// same: the CloudTable stacks configured from context, and cdk-nag's
// AwsSolutions checks, which fail synthesis on any finding that is not
// acknowledged with a reason where the resource is defined.
//
// Context (-c KEY=VALUE or cdk.json): stackName (default CloudTable),
// alarmEmail, dashboard=true, regions=HOME[,REGION…].
//
// One region (the default: the CLI profile's region, or `regions=eu-west-1`)
// is one stack, as it always was. Several regions (`-c
// regions=eu-west-1,eu-central-1`, home first) are one stack per further
// region (STACK-REGION: its reader over its replica) and the home stack
// (STACK: the global table with its replicas, the admin function, the home
// reader, the policies covering every reader, the outputs listing every
// endpoint). The home stack takes the readers' URLs and ARNs through CDK's
// cross-region references (SSM parameters a deploy-time custom resource
// writes in the home region), so `cdk deploy --all` deploys the further
// regions first; their readers answer 503 (store unavailable) for the
// minutes until the home stack has created their replicas. They find the
// replica by the global table's fixed name (STACK-tables), not through a
// reference, which would make the two kinds of stack depend on each other.

import { CrossStackReferences, ReferenceStrength, Validations, type App } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { CloudTableStack } from './cloudtable-stack.js';
import { RegionalReaderStack } from './regional-reader.js';

/** The global table's name for a deployment named `stackName`. */
export function globalTableName(stackName: string): string {
  return `${stackName}-tables`;
}

export function buildCloudTableApp(app: App): CloudTableStack {
  const context = (key: string): unknown => app.node.tryGetContext(key);
  const alarmEmail = context('alarmEmail');
  const stackName = String(context('stackName') ?? 'CloudTable');
  const regions = parseRegions(context('regions'));
  const account = process.env.CDK_DEFAULT_ACCOUNT;
  const shared = {
    ...(typeof alarmEmail === 'string' && alarmEmail !== '' && { alarmEmail }),
    dashboard: context('dashboard') === true || context('dashboard') === 'true',
  };
  if (regions.length <= 1) {
    const stack = new CloudTableStack(app, stackName, {
      // Account and region come from the CLI's profile at deploy time; synth needs neither.
      env: { account, region: regions[0] ?? process.env.CDK_DEFAULT_REGION },
      ...shared,
    });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
    return stack;
  }
  const tableName = globalTableName(stackName);
  // Fn::GetStackOutput reads another region's output directly: no
  // deploy-time custom resource, and no lock on the further regions' stacks.
  CrossStackReferences.of(app).consume(ReferenceStrength.WEAK);
  const regional = regions.slice(1).map(
    (region) => new RegionalReaderStack(app, `${stackName}-${region}`, { env: { account, region }, tableName, ...shared }),
  );
  const stack = new CloudTableStack(app, stackName, {
    env: { account, region: regions[0] },
    regions,
    globalTableName: tableName,
    regionalReaders: regional.map((s) => ({ region: s.region, reader: s.regional.reader })),
    ...shared,
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return stack;
}

/** `-c regions=eu-west-1,eu-central-1` (a string), or a list in cdk.json. */
function parseRegions(value: unknown): string[] {
  if (value === undefined || value === '') return [];
  const list = Array.isArray(value) ? value.map(String) : String(value).split(',');
  const regions = list.map((r) => r.trim()).filter((r) => r !== '');
  for (const r of regions) if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(r)) throw new Error(`-c regions: ${r} is not an AWS region name`);
  return regions;
}
