import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  GetItemCommand,
  PutItemCommand,
  type AttributeValue,
  type DynamoDBClient,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { DEFAULT_BACKOFF, backoffDelay, sleep, type BackoffOptions } from './retry.js';
import { META_SK, PK, SK, entryPk, metaPk } from './schema.js';

export interface TableMeta {
  table: string;
  generation: number;
  service?: string;
  count?: number;
}

/** What a key read from one generation came to: its value, absent, or a failure for this key alone. */
export type EntryRead = { value: string } | { absent: true } | { error: string };

const BATCH_GET_MAX = 100;
const BATCH_WRITE_MAX = 25;

type Item = Record<string, AttributeValue>;

/**
 * The DynamoDB store: reads of META and entries, and the raw writes that
 * table replacement is built from. It knows the item layout (schema.ts) and
 * DynamoDB's batch limits; it knows nothing of HTTP or of mail.
 */
export class Store {
  private readonly backoff: BackoffOptions;

  constructor(
    readonly client: DynamoDBClient,
    readonly tableName: string,
    backoff: Partial<BackoffOptions> = {},
  ) {
    this.backoff = { ...DEFAULT_BACKOFF, ...backoff };
  }

  async readMeta(table: string): Promise<TableMeta | undefined> {
    const out = await this.client.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { [PK]: { S: metaPk(table) }, [SK]: { S: META_SK } },
        ConsistentRead: true,
      }),
    );
    const item = out.Item;
    if (!item) return undefined;
    const generation = Number(item.gen?.N);
    if (!Number.isSafeInteger(generation)) throw new Error(`META of table ${table} has no valid generation`);
    return {
      table,
      generation,
      ...(item.service?.S !== undefined && { service: item.service.S }),
      ...(item.count?.N !== undefined && { count: Number(item.count.N) }),
    };
  }

  /**
   * Reads keys of one generation with BatchGetItem. Keys DynamoDB leaves
   * unprocessed (throttling) are retried with backoff and jitter; a key still
   * unprocessed after the last attempt, or a failed call, reads as an error —
   * never as absent.
   */
  async readEntries(table: string, generation: number, keys: readonly string[]): Promise<Map<string, EntryRead>> {
    const result = new Map<string, EntryRead>();
    const unique = [...new Set(keys)];
    const pk = entryPk(table, generation);
    for (let i = 0; i < unique.length; i += BATCH_GET_MAX) {
      const chunk = unique.slice(i, i + BATCH_GET_MAX);
      await this.batchGetChunk(pk, chunk, result);
    }
    return result;
  }

  private async batchGetChunk(pk: string, keys: string[], result: Map<string, EntryRead>): Promise<void> {
    let pending: Item[] = keys.map((k) => ({ [PK]: { S: pk }, [SK]: { S: k } }));
    let lastError = 'throttled: keys left unprocessed by DynamoDB';
    for (let attempt = 0; attempt < this.backoff.attempts && pending.length > 0; attempt++) {
      if (attempt > 0) await (this.backoff.sleep ?? sleep)(backoffDelay(attempt, this.backoff));
      let out;
      try {
        out = await this.client.send(
          new BatchGetItemCommand({
            RequestItems: { [this.tableName]: { Keys: pending, ProjectionExpression: '#sk, #v', ExpressionAttributeNames: { '#sk': SK, '#v': 'v' } } },
          }),
        );
      } catch (err) {
        lastError = errorName(err);
        continue;
      }
      for (const item of out.Responses?.[this.tableName] ?? []) {
        const key = item[SK]?.S;
        if (key === undefined) continue;
        const value = item.v?.S;
        result.set(key, value === undefined ? { error: 'stored item has no string value' } : { value });
      }
      const unprocessed = out.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
      const retry = new Set(unprocessed.map((k) => k[SK]?.S));
      for (const k of pending) {
        const key = k[SK]!.S!;
        if (!retry.has(key) && !result.has(key)) result.set(key, { absent: true });
      }
      pending = unprocessed;
    }
    for (const k of pending) result.set(k[SK]!.S!, { error: lastError });
  }

  /** Writes entries of one generation with BatchWriteItem, retrying unprocessed items; throws if some never land. */
  async writeEntries(table: string, generation: number, entries: Iterable<readonly [string, string]>): Promise<number> {
    const pk = entryPk(table, generation);
    let batch: WriteRequest[] = [];
    let written = 0;
    const flush = async (): Promise<void> => {
      await this.batchWriteWithRetry(batch);
      written += batch.length;
      batch = [];
    };
    for (const [key, value] of entries) {
      batch.push({ PutRequest: { Item: { [PK]: { S: pk }, [SK]: { S: key }, v: { S: value } } } });
      if (batch.length === BATCH_WRITE_MAX) await flush();
    }
    if (batch.length > 0) await flush();
    return written;
  }

  async batchWriteWithRetry(requests: WriteRequest[]): Promise<void> {
    let pending = requests;
    for (let attempt = 0; attempt < this.backoff.attempts && pending.length > 0; attempt++) {
      if (attempt > 0) await (this.backoff.sleep ?? sleep)(backoffDelay(attempt, this.backoff));
      const out = await this.client.send(new BatchWriteItemCommand({ RequestItems: { [this.tableName]: pending } }));
      pending = out.UnprocessedItems?.[this.tableName] ?? [];
    }
    if (pending.length > 0) throw new Error(`${pending.length} items left unprocessed by DynamoDB after ${this.backoff.attempts} attempts`);
  }

  /**
   * Makes `generation` the active one. With `expected`, only if the active
   * generation is still `expected` (undefined: the table must not exist yet),
   * so two writers can never both win.
   */
  async activate(table: string, generation: number, expected: number | undefined, extra: { service?: string; count?: number } = {}): Promise<void> {
    const item: Item = {
      [PK]: { S: metaPk(table) },
      [SK]: { S: META_SK },
      gen: { N: String(generation) },
      updated: { S: new Date().toISOString() },
    };
    if (extra.service !== undefined) item.service = { S: extra.service };
    if (extra.count !== undefined) item.count = { N: String(extra.count) };
    await this.client.send(
      new PutItemCommand({
        TableName: this.tableName,
        Item: item,
        ...(expected === undefined
          ? { ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': PK } }
          : { ConditionExpression: '#gen = :expected', ExpressionAttributeNames: { '#gen': 'gen' }, ExpressionAttributeValues: { ':expected': { N: String(expected) } } }),
      }),
    );
  }
}

export function errorName(err: unknown): string {
  if (err instanceof Error) return err.name && err.name !== 'Error' ? `${err.name}: ${err.message}` : err.message;
  return String(err);
}
