// The local backend's billing meter: counts what AWS would bill for the
// requests the local functions serve. Per function (reader, admin) and per
// operation (the last segment of the path: lookup, entries, begin, send…;
// a lookup with no queries is a `generation` check): invocations, billed
// duration (each invocation rounded up to the next millisecond, as Lambda
// bills), and DynamoDB read and write request units as the engine reports
// them in ConsumedCapacity (dynalite computes them as DynamoDB documents:
// reads per 4 KB, halved when eventually consistent, writes per 1 KB).
// Every DynamoDB call made while an invocation runs is charged to it.

import { AsyncLocalStorage } from 'node:async_hooks';
import type { ConsumedCapacity, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LOOKUP_PATH, isRecord } from '../../common/contract/lookup.js';
import { FUNCTION_MEMORY_MB, type FunctionName } from '../../common/function-sizes.js';
import type { FunctionUrlEvent, FunctionUrlHandler } from '../function-url.js';
import { LIST_PRICES, billedMs, dollars, type Dollars, type Usage } from './list-prices.js';

/** The DynamoDB calls that consume read units; every other data call consumes write units. */
const READ_COMMANDS = new Set(['GetItemCommand', 'BatchGetItemCommand', 'QueryCommand', 'ScanCommand']);

/** What one operation of one function was billed for. */
export interface Tally extends Usage {
  /** Wall-clock time the handler ran, before rounding. */
  durationMs: number;
}

export interface BillingRow extends Tally {
  function: FunctionName;
  operation: string;
  dollars: Dollars;
}

export interface BillingSnapshot {
  prices: typeof LIST_PRICES;
  memoryMb: typeof FUNCTION_MEMORY_MB;
  rows: BillingRow[];
  /** Per function, every operation summed. */
  functions: Record<FunctionName, Tally & { dollars: Dollars }>;
  /** Units consumed outside any invocation (tests and tools writing to the store directly): not billed to a function. */
  outside: { readUnits: number; writeUnits: number };
}

const empty = (): Tally => ({ invocations: 0, durationMs: 0, billedMs: 0, readUnits: 0, writeUnits: 0 });

export class BillingMeter {
  private readonly tallies = new Map<string, { fn: FunctionName; operation: string; tally: Tally }>();
  private readonly current = new AsyncLocalStorage<Tally>();
  private outside = { readUnits: 0, writeUnits: 0 };

  /** Counts every invocation of `handler` as one of function `fn`, its operation named by the request. */
  wrap(fn: FunctionName, handler: FunctionUrlHandler): FunctionUrlHandler {
    return (event) => this.invoke(fn, operationOf(event), () => handler(event));
  }

  /** Runs one invocation of `fn` (a request, or a scheduled run), charging it and the DynamoDB calls it makes. */
  async invoke<T>(fn: FunctionName, operation: string, run: () => Promise<T>): Promise<T> {
    const tally = this.tally(fn, operation);
    tally.invocations++;
    const started = performance.now();
    try {
      return await this.current.run(tally, run);
    } finally {
      const ms = performance.now() - started;
      tally.durationMs += ms;
      tally.billedMs += billedMs(ms);
    }
  }

  /**
   * Charges the capacity each call of `client` consumes to the invocation
   * making it. Asks every call for its consumed capacity, so that none goes
   * uncounted whatever the caller asked.
   */
  instrument(client: DynamoDBClient): void {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { ReturnConsumedCapacity?: string };
        if (input.ReturnConsumedCapacity === undefined || input.ReturnConsumedCapacity === 'NONE') input.ReturnConsumedCapacity = 'TOTAL';
        const out = await next(args);
        const consumed = (out.output as { ConsumedCapacity?: ConsumedCapacity | ConsumedCapacity[] }).ConsumedCapacity;
        if (consumed !== undefined) this.charge(READ_COMMANDS.has(context.commandName ?? '') ? 'readUnits' : 'writeUnits', consumed);
        return out;
      },
      { step: 'initialize', name: 'cloudtableBillingMeter' },
    );
  }

  snapshot(): BillingSnapshot {
    const rows: BillingRow[] = [];
    const functions = { reader: { ...empty(), dollars: dollars('reader', empty()) }, admin: { ...empty(), dollars: dollars('admin', empty()) } };
    for (const { fn, operation, tally } of this.tallies.values()) {
      rows.push({ function: fn, operation, ...tally, dollars: dollars(fn, tally) });
      const f = functions[fn];
      f.invocations += tally.invocations;
      f.durationMs += tally.durationMs;
      f.billedMs += tally.billedMs;
      f.readUnits += tally.readUnits;
      f.writeUnits += tally.writeUnits;
    }
    for (const fn of ['reader', 'admin'] as const) functions[fn].dollars = dollars(fn, functions[fn]);
    rows.sort((a, b) => a.function.localeCompare(b.function) || a.operation.localeCompare(b.operation));
    return { prices: LIST_PRICES, memoryMb: FUNCTION_MEMORY_MB, rows, functions, outside: { ...this.outside } };
  }

  /** Starts counting afresh (a benchmark measuring one phase). */
  reset(): void {
    this.tallies.clear();
    this.outside = { readUnits: 0, writeUnits: 0 };
  }

  private tally(fn: FunctionName, operation: string): Tally {
    const id = `${fn}\0${operation}`;
    let t = this.tallies.get(id);
    if (!t) {
      t = { fn, operation, tally: empty() };
      this.tallies.set(id, t);
    }
    return t.tally;
  }

  private charge(kind: 'readUnits' | 'writeUnits', consumed: ConsumedCapacity | ConsumedCapacity[]): void {
    let units = 0;
    for (const c of Array.isArray(consumed) ? consumed : [consumed]) units += c.CapacityUnits ?? 0;
    (this.current.getStore() ?? this.outside)[kind] += units;
  }
}

/** The operation a request is billed under: its path's last segment; a lookup asking no keys is a `generation` check. */
export function operationOf(event: FunctionUrlEvent): string {
  if (event.rawPath === LOOKUP_PATH && asksNoKeys(event)) return 'generation';
  return event.rawPath.split('/').filter(Boolean).pop() ?? '/';
}

function asksNoKeys(event: FunctionUrlEvent): boolean {
  try {
    const body: unknown = JSON.parse(Buffer.from(event.body ?? '', event.isBase64Encoded ? 'base64' : 'utf8').toString('utf8'));
    return isRecord(body) && Array.isArray(body.queries) && body.queries.length === 0;
  } catch {
    return false; // the handler refuses it, as one invocation of its path
  }
}
