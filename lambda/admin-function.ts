// Entry point of the admin Lambda function (Function URL, AWS_IAM auth): the
// transactional table replacement of `cloudtable load`, and the collection of
// old generations when invoked by a schedule. It is the only function with
// write rights on the table; the reader function only reads.

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createAdmin } from './admin/handler.js';
import { limitsFromEnv } from './admin/limits.js';
import type { GcResponse } from '../common/contract/admin.js';
import type { FunctionUrlEvent, FunctionUrlResult } from './function-url.js';
import { Store } from './store/store.js';

const tableName = process.env.TABLE_NAME;
if (!tableName) throw new Error('TABLE_NAME is not set');

// Created once per execution environment so warm invocations reuse connections.
const store = new Store(new DynamoDBClient({}), tableName);
// Several regions: the same global table's replicas elsewhere, which a swap waits for (store/replicas.ts).
const replicas = (process.env.CLOUDTABLE_REPLICA_REGIONS ?? '')
  .split(',')
  .filter((region) => region !== '')
  .map((region) => ({ region, store: new Store(new DynamoDBClient({ region }), tableName) }));
const admin = createAdmin(store, { limits: limitsFromEnv(process.env), replicas });

/** An EventBridge schedule (`{"source":"aws.events",…}`): collect garbage instead of answering HTTP. */
interface ScheduledEvent {
  source: 'aws.events';
}

interface LambdaContext {
  getRemainingTimeInMillis(): number;
}

/** Time kept back from the invocation's limit to answer after the last deletion. */
const MARGIN_MS = 5000;

export const handler = (event: FunctionUrlEvent | ScheduledEvent, context?: LambdaContext): Promise<FunctionUrlResult | GcResponse> => {
  if ('source' in event && event.source === 'aws.events') {
    return admin.collect(Math.max(1000, (context?.getRemainingTimeInMillis() ?? 60_000) - MARGIN_MS));
  }
  return admin.handler(event as FunctionUrlEvent);
};
