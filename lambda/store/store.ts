// The table store on DynamoDB: generations, META, entries, the transaction's
// conditional writes, listings and garbage; capacity units counted.

import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type AttributeValue,
  type ConsumedCapacity,
  type DynamoDBClient,
  type QueryCommandOutput,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { activeView, decodeMeta, type MetaRecord } from './meta.js';
import { DEFAULT_BACKOFF, backoffDelay, sleep, type BackoffOptions } from './retry.js';
import { errorName } from '../../common/error-text.js';
import { isPatternKey } from '../../common/smtpd/keys.js';
import type { Change } from './diff.js';
import { GC_PK, INDEX_PK, META_SK, PK, SK, changesPk, changesSk, entryPk, errorsSk, garbageDuePrefix, garbageSk, metaPk, parseGarbageSk, patternPk } from './schema.js';

/** What lookups are answered from: the table's active generation as a reader sees it now. */
export interface TableMeta {
  table: string;
  generation: number;
  /** Orders every change of the active generation, rollbacks included. */
  epoch: number;
  service?: string;
  count?: number;
  digest?: string;
}

/** What a key read from one generation came to: its value, absent, or a failure for this key alone. */
export type EntryRead = { value: string } | { absent: true } | { error: string };

export type Clock = () => number;

/** An update of one item; `#name` and `:name` placeholders are collected from the expressions. */
export interface ItemUpdate {
  update: string;
  condition?: string;
  values?: Record<string, string | number>;
}

export interface EntryError {
  line?: number;
  key: string;
  message: string;
}

export interface GarbageItem {
  sk: string;
  table: string;
  generation: number;
  dueMs: number;
}

const BATCH_GET_MAX = 100;
const BATCH_WRITE_MAX = 25;

type Item = Record<string, AttributeValue>;

export interface PageOptions {
  startKey?: string;
  limit?: number;
}

/** One page of a partition in key order; `next` is set when there may be more. */
export interface Page {
  entries: Array<[string, string]>;
  next: string | undefined;
}

/**
 * The DynamoDB store: reads of META and entries, and the single-item writes
 * (conditional where it matters) that table replacement is built from. It
 * knows the item layout (schema.ts) and DynamoDB's batch limits; it knows
 * nothing of HTTP or of mail. Every call asks for consumed capacity, summed
 * in `units`, so what a load costs is measured, not estimated.
 */
export class Store {
  private readonly backoff: BackoffOptions;
  /** Capacity units consumed so far, as DynamoDB (or dynalite) reports them. */
  readonly units = { read: 0, write: 0 };

  constructor(
    readonly client: DynamoDBClient,
    readonly tableName: string,
    backoff: Partial<BackoffOptions> = {},
    /** The time leases and rollbacks are judged by; injectable for tests. */
    readonly clock: Clock = Date.now,
  ) {
    this.backoff = { ...DEFAULT_BACKOFF, ...backoff };
  }

  /** The active generation as readers must see it now, or undefined when the table has none. */
  async readMeta(table: string): Promise<TableMeta | undefined> {
    const record = await this.readMetaRecord(table);
    if (!record) return undefined;
    const view = activeView(record, this.clock());
    if (view.generation === undefined) return undefined;
    return {
      table,
      generation: view.generation,
      epoch: view.epoch,
      ...(view.service !== undefined && { service: view.service }),
      ...(view.count !== undefined && { count: view.count }),
      ...(view.digest !== undefined && { digest: view.digest }),
    };
  }

  /** The META item as stored, transaction included (strongly consistent). */
  async readMetaRecord(table: string): Promise<MetaRecord | undefined> {
    const out = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: metaKey(table), ConsistentRead: true, ReturnConsumedCapacity: 'TOTAL' }),
    );
    this.count(out.ConsumedCapacity, 'read');
    return out.Item ? decodeMeta(table, out.Item) : undefined;
  }

  /**
   * One conditional UpdateItem of META (created if absent); returns the item
   * as written. A failed condition throws ConditionalCheckFailedException
   * with the item as it is (`Item`), so the caller can say why.
   */
  async updateMeta(table: string, u: ItemUpdate): Promise<MetaRecord> {
    const out = await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: metaKey(table),
        ...expressions(u),
        ReturnValues: 'ALL_NEW',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    this.count(out.ConsumedCapacity, 'write');
    return decodeMeta(table, out.Attributes ?? {});
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
            ReturnConsumedCapacity: 'TOTAL',
          }),
        );
      } catch (err) {
        lastError = errorName(err);
        continue;
      }
      this.count(out.ConsumedCapacity, 'read');
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

  /**
   * Writes entries of one generation with BatchWriteItem, retrying
   * unprocessed items; throws if some never land. Entries whose key is a
   * pattern are also written as pattern items (schema.ts). Returns the number
   * of entries written.
   */
  async writeEntries(table: string, generation: number, entries: Iterable<readonly [string, string]>): Promise<number> {
    const pk = entryPk(table, generation);
    const ppk = patternPk(table, generation);
    let batch: WriteRequest[] = [];
    let written = 0;
    const put = async (partition: string, key: string, value: string): Promise<void> => {
      batch.push({ PutRequest: { Item: { [PK]: { S: partition }, [SK]: { S: key }, v: { S: value } } } });
      if (batch.length === BATCH_WRITE_MAX) {
        await this.batchWriteWithRetry(batch);
        batch = [];
      }
    };
    for (const [key, value] of entries) {
      await put(pk, key, value);
      if (isPatternKey(key)) await put(ppk, key, value);
      written++;
    }
    if (batch.length > 0) await this.batchWriteWithRetry(batch);
    return written;
  }

  async batchWriteWithRetry(requests: WriteRequest[]): Promise<void> {
    let pending = requests;
    for (let attempt = 0; attempt < this.backoff.attempts && pending.length > 0; attempt++) {
      if (attempt > 0) await (this.backoff.sleep ?? sleep)(backoffDelay(attempt, this.backoff));
      const out = await this.client.send(
        new BatchWriteItemCommand({ RequestItems: { [this.tableName]: pending }, ReturnConsumedCapacity: 'TOTAL' }),
      );
      this.count(out.ConsumedCapacity, 'write');
      pending = out.UnprocessedItems?.[this.tableName] ?? [];
    }
    if (pending.length > 0) throw new Error(`${pending.length} items left unprocessed by DynamoDB after ${this.backoff.attempts} attempts`);
  }

  /** One page of a generation's entries in key order, from after `startKey`. */
  readGenerationPage(table: string, generation: number, opts: PageOptions = {}): Promise<Page> {
    return this.readPage(entryPk(table, generation), opts);
  }

  /** One page of a generation's pattern items in key order, from after `startKey`. */
  readPatternPage(table: string, generation: number, opts: PageOptions = {}): Promise<Page> {
    return this.readPage(patternPk(table, generation), opts);
  }

  private async readPage(pk: string, opts: PageOptions): Promise<Page> {
    const { items, next } = await this.queryPage(pk, opts);
    return { entries: items.map((i): [string, string] => [i[SK]?.S ?? '', i.v?.S ?? '']), next };
  }

  /** The part of a Query that names one partition. */
  private partition(pk: string): { TableName: string; KeyConditionExpression: string; ExpressionAttributeNames: Record<string, string>; ExpressionAttributeValues: Record<string, { S: string }> } {
    return { TableName: this.tableName, KeyConditionExpression: '#pk = :pk', ExpressionAttributeNames: { '#pk': PK }, ExpressionAttributeValues: { ':pk': { S: pk } } };
  }

  private async queryPage(pk: string, opts: PageOptions): Promise<{ items: Item[]; next: string | undefined }> {
    const out = await this.client.send(
      new QueryCommand({
        ...this.partition(pk),
        ...(opts.limit !== undefined && { Limit: opts.limit }),
        ...(opts.startKey !== undefined && { ExclusiveStartKey: { [PK]: { S: pk }, [SK]: { S: opts.startKey } } }),
        ConsistentRead: true,
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    this.count(out.ConsumedCapacity, 'read');
    return { items: out.Items ?? [], next: out.LastEvaluatedKey?.[SK]?.S };
  }

  /**
   * Writes the change log of generation `to` (what its transaction changed
   * relative to generation `from`), then the marker that says it is
   * complete: a log without its marker is never read.
   */
  async writeChanges(table: string, to: number, from: number, changes: readonly Change[]): Promise<void> {
    const pk = changesPk(table, to);
    for (let i = 0; i < changes.length; i += BATCH_WRITE_MAX) {
      await this.batchWriteWithRetry(
        changes.slice(i, i + BATCH_WRITE_MAX).map((c) => ({
          PutRequest: {
            Item: { [PK]: { S: pk }, [SK]: { S: c.key }, ...(c.value !== undefined && { v: { S: c.value } }), ...(c.old !== undefined && { o: { S: c.old } }) },
          },
        })),
      );
    }
    await this.put({ [PK]: { S: metaPk(table) }, [SK]: { S: changesSk(to) }, from: { N: String(from) }, n: { N: String(changes.length) } });
  }

  /** The generation the complete change log of `to` leads from, or undefined when it has none. */
  async changesFrom(table: string, to: number): Promise<number | undefined> {
    const out = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: { [PK]: { S: metaPk(table) }, [SK]: { S: changesSk(to) } }, ConsistentRead: true, ReturnConsumedCapacity: 'TOTAL' }),
    );
    this.count(out.ConsumedCapacity, 'read');
    const n = out.Item?.from?.N;
    return n === undefined ? undefined : Number(n);
  }

  /** One page of the change log of generation `to`, in key order. */
  async readChangesPage(table: string, to: number, opts: PageOptions = {}): Promise<{ changes: Change[]; next: string | undefined }> {
    const { items, next } = await this.queryPage(changesPk(table, to), opts);
    const changes = items.map((i): Change => ({ key: i[SK]?.S ?? '', ...(i.v?.S !== undefined && { value: i.v.S }), ...(i.o?.S !== undefined && { old: i.o.S }) }));
    return { changes, next };
  }

  /**
   * How many items a generation has (entries and pattern items), counted
   * with paged `Select: COUNT` queries; `consistent` only where this region
   * writes (a replica of a global table counts what has arrived so far).
   */
  async countGeneration(table: string, generation: number, consistent: boolean): Promise<number> {
    let n = 0;
    for (const pk of [entryPk(table, generation), patternPk(table, generation)]) {
      for await (const page of this.partitionPages(pk, { count: true, consistent })) n += page.Count ?? 0;
    }
    return n;
  }

  /** Every page of a Query over one whole partition, its read units counted. */
  private async *partitionPages(pk: string, o: { count?: boolean; consistent: boolean }): AsyncGenerator<QueryCommandOutput> {
    let start: Item | undefined;
    do {
      const out = await this.client.send(
        new QueryCommand({
          ...this.partition(pk),
          ...(o.count && { Select: 'COUNT' as const }),
          ConsistentRead: o.consistent,
          ReturnConsumedCapacity: 'TOTAL',
          ...(start && { ExclusiveStartKey: start }),
        }),
      );
      this.count(out.ConsumedCapacity, 'read');
      yield out;
      start = out.LastEvaluatedKey;
    } while (start);
  }

  /** Every entry of a generation, a page at a time. */
  async *generationPages(table: string, generation: number): AsyncGenerator<Array<[string, string]>> {
    let startKey: string | undefined;
    do {
      const page = await this.readGenerationPage(table, generation, startKey === undefined ? {} : { startKey });
      yield page.entries;
      startKey = page.next;
    } while (startKey !== undefined);
  }

  /**
   * Deletes a generation's entries until it is empty or the wall-clock time
   * `deadline` (Date.now() ms: a work budget, not a lease) passes; returns how
   * many were deleted and whether it is gone.
   */
  async deleteGeneration(table: string, generation: number, deadline: number): Promise<{ deleted: number; done: boolean }> {
    // The change log's marker first (a log without it is never read), then the
    // log and the pattern items: while entries remain, the generation is still listed as garbage.
    await this.deleteItem({ [PK]: { S: metaPk(table) }, [SK]: { S: changesSk(generation) } });
    const changes = await this.deletePartition(changesPk(table, generation), deadline);
    if (!changes.done) return changes;
    const patterns = await this.deletePartition(patternPk(table, generation), deadline);
    if (!patterns.done) return patterns;
    const entries = await this.deletePartition(entryPk(table, generation), deadline);
    return { deleted: changes.deleted + patterns.deleted + entries.deleted, done: entries.done };
  }

  private async deletePartition(pk: string, deadline: number): Promise<{ deleted: number; done: boolean }> {
    let deleted = 0;
    for (;;) {
      if (Date.now() >= deadline) return { deleted, done: false };
      const out = await this.client.send(
        new QueryCommand({
          ...this.partition(pk),
          ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
          ProjectionExpression: '#pk, #sk',
          Limit: 500,
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      this.count(out.ConsumedCapacity, 'read');
      const keys = out.Items ?? [];
      if (keys.length === 0) return { deleted, done: true };
      for (let i = 0; i < keys.length; i += BATCH_WRITE_MAX) {
        await this.batchWriteWithRetry(keys.slice(i, i + BATCH_WRITE_MAX).map((k) => ({ DeleteRequest: { Key: { [PK]: k[PK]!, [SK]: k[SK]! } } })));
      }
      deleted += keys.length;
    }
  }

  /** Records the table in the index `cloudtable status` lists. Idempotent. */
  async registerTable(table: string): Promise<void> {
    await this.put({ [PK]: { S: INDEX_PK }, [SK]: { S: table } });
  }

  async listTables(): Promise<string[]> {
    const tables: string[] = [];
    for await (const page of this.partitionPages(INDEX_PK, { consistent: true })) {
      for (const i of page.Items ?? []) if (i[SK]?.S) tables.push(i[SK].S);
    }
    return tables;
  }

  /** Marks a generation for deletion once `dueMs` has passed (the collector checks it is unreferenced first). */
  async scheduleGarbage(table: string, generation: number, dueMs: number): Promise<void> {
    await this.put({ [PK]: { S: GC_PK }, [SK]: { S: garbageSk(dueMs, table, generation) } });
  }

  /** Garbage due by `nowMs`, oldest first. */
  async dueGarbage(nowMs: number, limit = 100): Promise<GarbageItem[]> {
    const out = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        // Everything due at or before nowMs sorts below the prefix of nowMs + 1.
        KeyConditionExpression: '#pk = :pk AND #sk < :due',
        ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
        ExpressionAttributeValues: { ':pk': { S: GC_PK }, ':due': { S: garbageDuePrefix(nowMs + 1) } },
        Limit: limit,
        ConsistentRead: true,
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    this.count(out.ConsumedCapacity, 'read');
    const items: GarbageItem[] = [];
    for (const i of out.Items ?? []) {
      const sk = i[SK]?.S ?? '';
      const parsed = parseGarbageSk(sk);
      if (parsed) items.push({ sk, ...parsed });
    }
    return items;
  }

  async pendingGarbage(): Promise<number> {
    let n = 0;
    for await (const page of this.partitionPages(GC_PK, { count: true, consistent: false })) n += page.Count ?? 0;
    return n;
  }

  async removeGarbage(sk: string): Promise<void> {
    await this.deleteItem({ [PK]: { S: GC_PK }, [SK]: { S: sk } });
  }

  /** Appends to a transaction's list of refused entries. */
  async appendErrors(table: string, txn: string, errors: EntryError[]): Promise<void> {
    const out = await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: errorsKey(table, txn),
        UpdateExpression: 'SET #errs = list_append(if_not_exists(#errs, :empty), :errs)',
        ExpressionAttributeNames: { '#errs': 'errs' },
        ExpressionAttributeValues: {
          ':empty': { L: [] },
          ':errs': {
            L: errors.map((e) => ({
              M: { k: { S: e.key }, m: { S: e.message }, ...(e.line !== undefined && { l: { N: String(e.line) } }) },
            })),
          },
        },
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    this.count(out.ConsumedCapacity, 'write');
  }

  async readErrors(table: string, txn: string): Promise<EntryError[]> {
    const out = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: errorsKey(table, txn), ConsistentRead: true, ReturnConsumedCapacity: 'TOTAL' }),
    );
    this.count(out.ConsumedCapacity, 'read');
    return (out.Item?.errs?.L ?? []).map((e) => {
      const m = e.M ?? {};
      return { key: m.k?.S ?? '', message: m.m?.S ?? '', ...(m.l?.N !== undefined && { line: Number(m.l.N) }) };
    });
  }

  async clearErrors(table: string, txn: string): Promise<void> {
    await this.deleteItem(errorsKey(table, txn));
  }

  private async put(item: Item): Promise<void> {
    const out = await this.client.send(new PutItemCommand({ TableName: this.tableName, Item: item, ReturnConsumedCapacity: 'TOTAL' }));
    this.count(out.ConsumedCapacity, 'write');
  }

  private async deleteItem(key: Item): Promise<void> {
    const out = await this.client.send(new DeleteItemCommand({ TableName: this.tableName, Key: key, ReturnConsumedCapacity: 'TOTAL' }));
    this.count(out.ConsumedCapacity, 'write');
  }

  private count(c: ConsumedCapacity | ConsumedCapacity[] | undefined, kind: 'read' | 'write'): void {
    for (const x of Array.isArray(c) ? c : c ? [c] : []) this.units[kind] += x.CapacityUnits ?? 0;
  }
}

function metaKey(table: string): Item {
  return { [PK]: { S: metaPk(table) }, [SK]: { S: META_SK } };
}

function errorsKey(table: string, txn: string): Item {
  return { [PK]: { S: metaPk(table) }, [SK]: { S: errorsSk(txn) } };
}

/** Builds the expression maps of an update from the `#name` and `:name` placeholders it uses. */
function expressions(u: ItemUpdate): {
  UpdateExpression: string;
  ConditionExpression?: string;
  ExpressionAttributeNames: Record<string, string>;
  ExpressionAttributeValues?: Record<string, AttributeValue>;
} {
  const text = `${u.update} ${u.condition ?? ''}`;
  const names: Record<string, string> = {};
  for (const m of text.matchAll(/#(\w+)/g)) names[`#${m[1]}`] = m[1]!;
  const values: Record<string, AttributeValue> = {};
  for (const m of text.matchAll(/:(\w+)/g)) {
    const v = u.values?.[m[1]!];
    if (v === undefined) throw new Error(`update uses :${m[1]} but gives no value for it`);
    values[`:${m[1]}`] = typeof v === 'number' ? { N: String(v) } : { S: v };
  }
  return {
    UpdateExpression: u.update,
    ...(u.condition && { ConditionExpression: u.condition }),
    ExpressionAttributeNames: names,
    ...(Object.keys(values).length > 0 && { ExpressionAttributeValues: values }),
  };
}

export function isConditionFailure(err: unknown): err is ConditionalCheckFailedException {
  return err instanceof ConditionalCheckFailedException || (err instanceof Error && err.name === 'ConditionalCheckFailedException');
}

