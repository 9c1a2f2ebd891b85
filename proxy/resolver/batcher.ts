// Batching of misses per table into HTTP requests to the function, within a
// window of the resolver's clock.

import type { LookupQuery, QueryResult } from '../../common/contract/lookup.js';
import type { Clock, Timer } from '../clock.js';
import type { Upstream } from '../upstream/client.js';

export interface BatchResult {
  result: QueryResult;
  generation: number;
  /** Order in which the HTTP request was sent: later requests saw later state. */
  seq: number;
}

/** What becomes of one query: its result, or the failure of the request it went in. */
export type BatchOutcome = BatchResult | { error: unknown };

export interface BatchObserver {
  /** Once per HTTP request sent, with its size. */
  sent?(table: string, size: number): void;
  /** `epoch` orders generations across requests (absent from functions that predate it). */
  succeeded(table: string, generation: number, seq: number, ms: number, epoch: number | undefined): void;
  failed(table: string, err: unknown, ms: number, size: number): void;
}

export interface BatcherOptions {
  windowMs: number;
  max: number;
  /** Each query's deadline, from when it was enqueued. */
  timeoutMs: number;
}

/** One query waiting to be sent; the caller's own object, so that a miss allocates nothing more here. */
export interface BatchItem {
  readonly query: LookupQuery;
  /** The batcher's clock.monotonic() when it was enqueued. */
  readonly at: number;
}

interface Queue<T> {
  items: T[];
  /** When the waiting items go: the window's timer (an immediate when there is no window), or `TICK_END` for a miss that found nothing to join. */
  timer: Timer | NodeJS.Immediate | typeof TICK_END | undefined;
  /** HTTP requests of this table not answered yet. */
  inflight: number;
}

/** The items go at the end of the current tick, with whatever else was asked in it. */
const TICK_END = Symbol('tick end');

/**
 * Collects misses per table and sends each batch as one HTTP request;
 * `deliver` gets each query's outcome. A miss of a table with no request
 * waiting or in flight goes out at once, at the end of the current tick
 * with whatever else that tick asked (so smtpd, which asks one key at a
 * time, never waits for a window); misses that arrive while a request is in
 * flight wait at most `windowMs` (or until `max` keys) to share one.
 * A failed request fails every query in it with the same error. The request
 * is aborted when its oldest query's deadline passes, so it fails (once,
 * with its cause) no later than the callers give up on it, and never
 * succeeds unseen after they did.
 */
export class Batcher<T extends BatchItem> {
  private readonly queues = new Map<string, Queue<T>>();
  private seq = 0;

  constructor(
    private readonly upstream: Upstream,
    private readonly clock: Clock,
    private readonly options: BatcherOptions,
    private readonly observer: BatchObserver,
    private readonly deliver: (item: T, outcome: BatchOutcome) => void,
  ) {}

  /** A place in the order of upstream requests, for a request sent outside a batch. */
  nextSeq(): number {
    return ++this.seq;
  }

  enqueue(table: string, item: T): void {
    let q = this.queues.get(table);
    if (!q) {
      q = { items: [], timer: undefined, inflight: 0 };
      this.queues.set(table, q);
    }
    q.items.push(item);
    if (q.items.length >= this.options.max) this.flush(table, q);
    else if (!q.timer) {
      const queue = q;
      if (q.inflight === 0) {
        q.timer = TICK_END;
        queueMicrotask(() => {
          if (queue.timer === TICK_END) this.flush(table, queue);
        });
      } else {
        q.timer = this.options.windowMs > 0 ? this.clock.setTimeout(() => this.flush(table, queue), this.options.windowMs) : setImmediate(() => this.flush(table, queue));
      }
    }
  }

  private flush(table: string, q: Queue<T>): void {
    if (q.timer !== undefined && q.timer !== TICK_END) {
      if (this.options.windowMs > 0) this.clock.clear(q.timer as Timer);
      else clearImmediate(q.timer as NodeJS.Immediate);
    }
    q.timer = undefined;
    while (q.items.length > 0) {
      const batch = q.items.length <= this.options.max ? q.items : q.items.splice(0, this.options.max);
      if (batch === q.items) q.items = [];
      void this.send(table, q, batch);
    }
  }

  private async send(table: string, q: Queue<T>, batch: T[]): Promise<void> {
    const seq = this.nextSeq();
    const started = this.clock.monotonic();
    const timeoutMs = Math.max(1, Math.floor(batch[0]!.at + this.options.timeoutMs - started));
    this.observer.sent?.(table, batch.length);
    // Done before delivering: a caller that asks again as soon as it is answered finds nothing in flight.
    q.inflight++;
    try {
      const res = await this.upstream.lookup(table, batch.map((p) => p.query), timeoutMs);
      q.inflight--;
      this.observer.succeeded(table, res.generation, seq, this.clock.monotonic() - started, res.epoch);
      batch.forEach((p, i) => this.deliver(p, { result: res.results[i]!, generation: res.generation, seq }));
    } catch (err) {
      q.inflight--;
      this.observer.failed(table, err, this.clock.monotonic() - started, batch.length);
      const failure = { error: err };
      for (const p of batch) this.deliver(p, failure);
    }
  }
}
