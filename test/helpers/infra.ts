// Builds the CDK app the way `npx cdk synth` does (cdk.json's context, the
// same buildCloudTableApp), offline, for assertions on its template.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { App, Stack, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { buildCloudTableApp } from '../../infra/cloudtable-app.js';
import type { CloudTableStack } from '../../infra/cloudtable-stack.js';
import type { UrlFunction } from '../../infra/url-function.js';
import type { IConstruct } from 'constructs';
import { ROOT } from './cli.js';

export interface AppOptions {
  /** Extra context, as `-c KEY=VALUE` would give. */
  context?: Record<string, unknown>;
  /** Run esbuild as a deploy would (slower); otherwise the functions' code is not built. */
  bundle?: boolean;
  /** Cloud assembly directory (bundled code lands there). */
  outdir?: string;
}

/** A fresh App with cdk.json's context (feature flags), as the CLI would start it. */
export function newApp(opts: AppOptions = {}): App {
  const cdkJson = JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> };
  return new App({
    context: {
      ...cdkJson.context,
      // CDK's documented switch: bundle no stack's assets (a list of stack names to bundle).
      ...(opts.bundle === false || opts.bundle === undefined ? { 'aws:cdk:bundling-stacks': [] } : {}),
      ...opts.context,
    },
    ...(opts.outdir !== undefined && { outdir: opts.outdir }),
  });
}

export interface Synthesized {
  app: App;
  stack: CloudTableStack;
  template: Template;
}

/** The deployed app: buildCloudTableApp on a new App, synthesized once. */
export function synthCloudTableApp(opts: AppOptions = {}): Synthesized {
  const app = newApp(opts);
  const stack = buildCloudTableApp(app);
  return { app, stack, template: Template.fromStack(stack) };
}

/** A stack of the caller's own, for using the construct as a library. */
export function emptyStack(opts: AppOptions = {}): Stack {
  return new Stack(newApp(opts), 'Host');
}

/** The directory the bundled code of a function was staged in. */
export function bundledCodeDir(app: App, fn: UrlFunction): string {
  const asset = fn.fn.node.findChild('Code') as Asset;
  return join(app.outdir, asset.assetPath);
}

/** The logical id in its stack's template of an L2 construct's CloudFormation resource. */
export function logicalId(construct: IConstruct): string {
  return Stack.of(construct).getLogicalId(construct.node.defaultChild as CfnElement);
}

/**
 * A DynamoDB client that allows only the given IAM actions, as a function's
 * role would, and records every operation it is asked for: the store code
 * runs against the real local engine, and a call the role does not allow
 * fails with AccessDeniedException as it would in AWS.
 */
export function roleLimitedClient(endpoint: string, allowedActions: readonly string[], used: Set<string>): DynamoDBClient {
  const client = new DynamoDBClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'dynalite', secretAccessKey: 'dynalite' },
    maxAttempts: 1,
  });
  client.middlewareStack.add(
    (next, context) => (args) => {
      const operation = String(context.commandName).replace(/Command$/, '');
      used.add(operation);
      if (!allowedActions.includes(`dynamodb:${operation}`)) {
        throw Object.assign(new Error(`not authorized to perform: dynamodb:${operation}`), { name: 'AccessDeniedException' });
      }
      return next(args);
    },
    { step: 'initialize', name: 'roleLimit' },
  );
  return client;
}
