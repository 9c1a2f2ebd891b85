// One cloudtable Lambda function behind an AWS_IAM Function URL: its role
// (only what the caller grants, plus writing its own log group), its log
// group with a retention, and the identity-policy statements that let a
// principal call it through the URL and in no other way.

import { fileURLToPath } from 'node:url';
import { RemovalPolicy, Validations, type Duration } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, FunctionUrlAuthType, Runtime, type FunctionUrl } from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction, OutputFormat, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** The repository root: NodejsFunction bundles from here, with its package-lock.json. */
export const PROJECT_ROOT = fileURLToPath(new URL('../', import.meta.url));

export interface UrlFunctionProps {
  /** Entry module, relative to the repository root (e.g. `lambda/lookup-function.ts`). */
  entry: string;
  description: string;
  memorySize: number;
  timeout: Duration;
  logRetention: RetentionDays;
  environment: Record<string, string>;
  /**
   * A fixed name, for a function another region's stack refers to (CDK
   * generates names only when the account is known, and synth needs none).
   */
  functionName?: string;
}

export class UrlFunction extends Construct {
  readonly fn: NodejsFunction;
  readonly url: FunctionUrl;
  readonly role: Role;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: UrlFunctionProps) {
    super(scope, id);
    // An explicit log group carries the retention; logs are kept after a
    // teardown until that retention ends, like the table.
    this.logGroup = new LogGroup(this, 'Logs', { retention: props.logRetention, removalPolicy: RemovalPolicy.RETAIN });
    // An explicit role instead of the AWSLambdaBasicExecutionRole managed
    // policy, which may write to every log group of the account.
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `${props.description}: execution role`,
    });
    this.logGroup.grantWrite(this.role);

    this.fn = new NodejsFunction(this, 'Function', {
      entry: `${PROJECT_ROOT}${props.entry}`,
      handler: 'handler',
      ...(props.functionName !== undefined && { functionName: props.functionName }),
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: `${PROJECT_ROOT}package-lock.json`,
      description: props.description,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      role: this.role,
      logGroup: this.logGroup,
      environment: { ...props.environment, NODE_OPTIONS: '--enable-source-maps' },
      bundling: BUNDLING,
    });
    Validations.of(this.fn).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'Node.js 22 is the runtime cloudtable is built and tested for; moving to a newer one is a deliberate, tested upgrade rather than whatever is newest at synth time.',
    });
    this.url = this.fn.addFunctionUrl({ authType: FunctionUrlAuthType.AWS_IAM });
  }

  /**
   * What a caller's identity policy needs to call this function through its
   * URL. Since October 2025 AWS requires `lambda:InvokeFunction` beside
   * `lambda:InvokeFunctionUrl` for new function URLs; the condition
   * `lambda:InvokedViaFunctionUrl` keeps that second grant from allowing a
   * direct Invoke API call, so the URL stays the only door.
   */
  invokeStatements(): PolicyStatement[] {
    return [
      new PolicyStatement({
        actions: ['lambda:InvokeFunctionUrl'],
        resources: [this.fn.functionArn],
        conditions: { StringEquals: { 'lambda:FunctionUrlAuthType': FunctionUrlAuthType.AWS_IAM } },
      }),
      new PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: [this.fn.functionArn],
        conditions: { Bool: { 'lambda:InvokedViaFunctionUrl': 'true' } },
      }),
    ];
  }
}

/**
 * esbuild on this machine (the `esbuild` dev dependency; without it CDK would
 * try Docker). The AWS SDK is bundled rather than taken from the runtime, so
 * the function runs the SDK version the tests ran, tree-shaken and minified;
 * ESM loaded about twice as fast as CommonJS when measured (see README).
 */
const BUNDLING: BundlingOptions = {
  format: OutputFormat.ESM,
  target: 'node22',
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  externalModules: [],
  mainFields: ['module', 'main'],
  // Some bundled CommonJS dependencies call require() for Node built-ins,
  // which an ES module does not have.
  banner: "import{createRequire as __cloudtableRequire}from'node:module';const require=__cloudtableRequire(import.meta.url);",
  logLevel: LogLevel.WARNING,
};
