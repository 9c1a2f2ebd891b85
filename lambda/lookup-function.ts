// Entry point of the reader Lambda function (Function URL, AWS_IAM auth).
// AWS verifies the SigV4 signature before invoking it; the function only reads.

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { FunctionUrlEvent, FunctionUrlResult } from './function-url.js';
import { createLookupHandler } from './lookup.js';
import { readAccessFromEnv } from './read-access.js';
import { Store } from './store/store.js';

const tableName = process.env.TABLE_NAME;
if (!tableName) throw new Error('TABLE_NAME is not set');

// Created once per execution environment so warm invocations reuse connections.
const store = new Store(new DynamoDBClient({}), tableName);
// A bad rule fails every cold start, loudly, rather than opening a table (the construct checks it at synth).
const access = readAccessFromEnv(process.env);
const handle = createLookupHandler(store, { ...(access && { access }) });

export const handler = (event: FunctionUrlEvent): Promise<FunctionUrlResult> => handle(event);
