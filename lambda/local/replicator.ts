// Replication for the local multi-region backend, the way DynamoDB global
// tables replicate (multi-Region eventual consistency): item by item, each
// after its own delay, in no guaranteed order — so a replica can see META
// name a generation before that generation's entries have arrived, which is
// exactly what docs/store.md's "Several regions" must survive.
//
// dynalite has no streams, so writes are intercepted: a middleware on the
// home store's DynamoDB client notes the key of every item a write touches
// (PutItem, UpdateItem, DeleteItem, BatchWriteItem), and after a random
// delay the item's state at that moment is read from the home engine and
// put into (or deleted from) each replica. Copying the state at copy time,
// not the write's image, is what a last-writer-wins replica converges to
// anyway; copies of one key run one after another, so a later copy always
// carries a later state. Scanning and diffing would have been simpler to
// wire but cannot reorder items within one write, and costs a full scan
// per round.

import { DeleteItemCommand, GetItemCommand, PutItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PK, SK } from '../store/schema.js';
import { engineClient } from './dynalite-engine.js';

type Key = Record<string, AttributeValue>;

export interface ReplicationDelay {
  /** Each item's copy waits a uniformly random time in [minMs, maxMs]. */
  minMs: number;
  maxMs: number;
}

export interface ReplicaTarget {
  region: string;
  client: DynamoDBClient;
}

export interface ReplicatorOptions {
  tableName: string;
  /** The home engine's endpoint, read directly (not through the intercepted client). */
  homeEndpoint: string;
  targets: ReplicaTarget[];
  delay: ReplicationDelay;
  /** Random numbers in [0, 1) (tests pass a seeded one). */
  random?: () => number;
  onError?: (err: unknown) => void;
}

export class Replicator {
  private readonly home: DynamoDBClient;
  private readonly chains = new Map<string, Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<void>>();
  private closed = false;
  /** Item copies made so far (per target). */
  copies = 0;
  delay: ReplicationDelay;
  /**
   * Items it says yes to are held back until `release()`: a replica lagging
   * on some items for as long as a test needs (eventual consistency gives
   * no bound and no order).
   */
  hold: ((key: Key) => boolean) | undefined;
  private held: Key[] = [];

  constructor(private readonly opts: ReplicatorOptions) {
    this.home = engineClient(opts.homeEndpoint);
    this.delay = opts.delay;
  }

  /** Intercepts the writes `client` makes (the home store's client). */
  watch(client: DynamoDBClient): void {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const out = await next(args);
        for (const key of writtenKeys(String(context.commandName), args.input as Record<string, unknown>, this.opts.tableName)) this.schedule(key);
        return out;
      },
      { step: 'initialize', name: 'cloudtableReplicator' },
    );
  }

  /** Copies what was held back (each after its usual delay), and holds nothing more. */
  release(): void {
    const held = this.held;
    this.held = [];
    this.hold = undefined;
    for (const key of held) this.schedule(key);
  }

  /** Items noted but not yet copied everywhere (held ones aside). */
  get pending(): number {
    return this.timers.size + this.inFlight.size;
  }

  /** Resolves once every item noted so far has been copied. */
  async drain(): Promise<void> {
    while (this.pending > 0) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.inFlight]);
    this.home.destroy();
  }

  private schedule(key: Key): void {
    if (this.closed) return;
    if (this.hold?.(key)) {
      this.held.push(key);
      return;
    }
    const { minMs, maxMs } = this.delay;
    const wait = minMs + (this.opts.random ?? Math.random)() * Math.max(0, maxMs - minMs);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.copy(key);
    }, wait);
    this.timers.add(timer);
  }

  private copy(key: Key): void {
    const id = `${key[PK]?.S}\u0000${key[SK]?.S}`;
    const run = (this.chains.get(id) ?? Promise.resolve()).then(() => this.copyNow(key)).catch((err: unknown) => this.opts.onError?.(err));
    this.chains.set(id, run);
    this.inFlight.add(run);
    void run.finally(() => {
      this.inFlight.delete(run);
      if (this.chains.get(id) === run) this.chains.delete(id);
    });
  }

  private async copyNow(key: Key): Promise<void> {
    if (this.closed) return;
    const TableName = this.opts.tableName;
    const { Item } = await this.home.send(new GetItemCommand({ TableName, Key: key, ConsistentRead: true }));
    for (const t of this.opts.targets) {
      if (Item) await t.client.send(new PutItemCommand({ TableName, Item }));
      else await t.client.send(new DeleteItemCommand({ TableName, Key: key }));
      this.copies++;
    }
  }
}

/** The keys of the items a write command touches (reads touch none). */
function writtenKeys(command: string, input: Record<string, unknown>, tableName: string): Key[] {
  const keyOf = (item: Key | undefined): Key[] => (item?.[PK] && item[SK] ? [{ [PK]: item[PK], [SK]: item[SK] }] : []);
  switch (command) {
    case 'PutItemCommand':
      return keyOf(input.Item as Key);
    case 'UpdateItemCommand':
    case 'DeleteItemCommand':
      return keyOf(input.Key as Key);
    case 'BatchWriteItemCommand': {
      const requests = ((input.RequestItems as Record<string, unknown[]> | undefined)?.[tableName] ?? []) as Array<{
        PutRequest?: { Item: Key };
        DeleteRequest?: { Key: Key };
      }>;
      return requests.flatMap((r) => keyOf(r.PutRequest?.Item ?? r.DeleteRequest?.Key));
    }
    default:
      return [];
  }
}
