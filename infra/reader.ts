// The reader function of one region: its Function URL, read-only grants on
// the table (or the region's replica of it), sizing checked against the
// proxy's deadline. The home construct (cloudtable.ts) and each further
// region (regional-reader.ts) build it the same way.

import { FUNCTION_MEMORY_MB } from '../common/function-sizes.js';
import { Duration, Stack, Token } from 'aws-cdk-lib';
import { Operation, type ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { checkReadAccess, READ_ACCESS_ENV } from '../lambda/read-access.js';
import { defaultConfig } from '../proxy/config.js';
import { UrlFunction } from './url-function.js';

/** The reader's DynamoDB calls: META (GetItem), keys (BatchGetItem), pattern sets and listings (Query). */
export const READER_OPERATIONS: readonly Operation[] = [Operation.GET_ITEM, Operation.BATCH_GET_ITEM, Operation.QUERY];

export interface FunctionSizing {
  /** MB; CPU grows with it. */
  memorySize?: number;
  timeout?: Duration;
  /** The p99 duration alarm fires above this. */
  p99Alarm?: Duration;
}

export type ResolvedSizing = Required<FunctionSizing>;

/** Default 512 MB, 3 s, p99 alarm above 1 s; the timeout must stay below the proxy's deadline. */
export function readerSizing(sizing: FunctionSizing = {}, proxyDeadline?: Duration): ResolvedSizing {
  const resolved = { memorySize: FUNCTION_MEMORY_MB.reader as number, timeout: Duration.seconds(3), p99Alarm: Duration.seconds(1), ...sizing };
  requireBelow('reader timeout', resolved.timeout, 'the proxy deadline', proxyDeadline ?? Duration.millis(defaultConfig().upstream.deadlineMs));
  return resolved;
}

/** Per-table read access (CloudTableProps.access): table or `*` → role ARNs, user ARNs or account ids. */
export type ReadAccessProp = Record<string, string[]>;

export function createReader(
  scope: Construct,
  id: string,
  table: ITable,
  sizing: ResolvedSizing,
  logRetention: RetentionDays,
  functionName?: string,
  access?: ReadAccessProp,
): UrlFunction {
  const reader = new UrlFunction(scope, id, {
    ...(functionName !== undefined && { functionName }),
    entry: 'lambda/lookup-function.ts',
    description: 'cloudtable reader: answers mail-host lookups from DynamoDB',
    memorySize: sizing.memorySize,
    timeout: sizing.timeout,
    logRetention,
    // The SDK's default region is the function's own: a replica region's reader reads its local replica.
    environment: { TABLE_NAME: table.tableName, ...readAccessEnvironment(scope, access) },
  });
  reader.role.addToPrincipalPolicy(new PolicyStatement({ actions: READER_OPERATIONS.map((op) => `dynamodb:${op}`), resources: [table.tableArn] }));
  return reader;
}

/**
 * The reader's environment for its read access, checked now by the
 * function's own parser (ARNs given as tokens are checked at deploy by
 * nothing but the function's cold start, which then fails loudly).
 */
function readAccessEnvironment(scope: Construct, access: ReadAccessProp | undefined): Record<string, string> {
  if (access === undefined) return {};
  const literal = Object.fromEntries(Object.entries(access).map(([t, list]) => [t, list.filter((p) => !Token.isUnresolved(p))]));
  checkReadAccess(literal);
  return { [READ_ACCESS_ENV]: Stack.of(scope).toJsonString(access) };
}

/**
 * A function's timeout must be below its client's, so that Lambda ends a
 * stuck invocation (and counts it as an error) before the client gives up.
 */
export function requireBelow(what: string, timeout: Duration, limitName: string, limit: Duration): void {
  if (timeout.toMilliseconds() >= limit.toMilliseconds()) {
    throw new Error(`${what} ${timeout.toMilliseconds()} ms must be below ${limitName} ${limit.toMilliseconds()} ms, or the client gives up before Lambda does`);
  }
}
