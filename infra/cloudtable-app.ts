// What `npx cdk synth` builds, in one place so the tests build exactly the
// same: one CloudTableStack configured from context, and cdk-nag's
// AwsSolutions checks, which fail synthesis on any finding that is not
// acknowledged with a reason where the resource is defined.
//
// Context (-c KEY=VALUE or cdk.json): stackName (default CloudTable),
// alarmEmail, dashboard=true.

import { Validations, type App } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { CloudTableStack } from './cloudtable-stack.js';

export function buildCloudTableApp(app: App): CloudTableStack {
  const context = (key: string): unknown => app.node.tryGetContext(key);
  const alarmEmail = context('alarmEmail');
  const stack = new CloudTableStack(app, String(context('stackName') ?? 'CloudTable'), {
    // Account and region come from the CLI's profile at deploy time; synth needs neither.
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
    ...(typeof alarmEmail === 'string' && alarmEmail !== '' && { alarmEmail }),
    dashboard: context('dashboard') === true || context('dashboard') === 'true',
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return stack;
}
