import type { LookupQuery, QueryResult } from '../../lambda/contract.js';
import type { Upstream } from '../upstream/client.js';

export interface BatchResult {
  result: QueryResult;
  generation: number;
  /** Order in which the HTTP request was sent: later requests saw later state. */
  seq: number;
}

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

interface Pending {
  query: LookupQuery;
  /** performance.now() when enqueued. */
  at: number;
  resolve(r: BatchResult): void;
  reject(err: unknown): void;
}

interface Queue {
  items: Pending[];
  timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
}

/**
 * Collects misses per table for at most `windowMs` (or until `max` keys) and
 * sends each batch as one HTTP request. A failed request rejects every
 * query in it with the same error. The request is aborted when its oldest
 * query's deadline passes, so it fails (once, with its cause) no later than
 * the callers give up on it, and never succeeds unseen after they did.
 */
export class Batcher {
  private readonly queues = new Map<string, Queue>();
  private seq = 0;

  constructor(
    private readonly upstream: Upstream,
    private readonly options: BatcherOptions,
    private readonly observer: BatchObserver,
  ) {}

  /** A place in the order of upstream requests, for a request sent outside a batch. */
  nextSeq(): number {
    return ++this.seq;
  }

  enqueue(table: string, query: LookupQuery): Promise<BatchResult> {
    return new Promise<BatchResult>((resolve, reject) => {
      let q = this.queues.get(table);
      if (!q) {
        q = { items: [], timer: undefined };
        this.queues.set(table, q);
      }
      q.items.push({ query, at: performance.now(), resolve, reject });
      if (q.items.length >= this.options.max) this.flush(table, q);
      else if (!q.timer) {
        q.timer = this.options.windowMs > 0 ? setTimeout(() => this.flush(table, q), this.options.windowMs) : setImmediate(() => this.flush(table, q));
      }
    });
  }

  private flush(table: string, q: Queue): void {
    if (q.timer) {
      clearTimeout(q.timer as NodeJS.Timeout);
      clearImmediate(q.timer as NodeJS.Immediate);
      q.timer = undefined;
    }
    while (q.items.length > 0) {
      const batch = q.items.splice(0, this.options.max);
      void this.send(table, batch);
    }
  }

  private async send(table: string, batch: Pending[]): Promise<void> {
    const seq = this.nextSeq();
    const started = performance.now();
    const timeoutMs = Math.max(1, Math.floor(batch[0]!.at + this.options.timeoutMs - started));
    this.observer.sent?.(table, batch.length);
    try {
      const res = await this.upstream.lookup(table, batch.map((p) => p.query), timeoutMs);
      this.observer.succeeded(table, res.generation, seq, performance.now() - started, res.epoch);
      batch.forEach((p, i) => p.resolve({ result: res.results[i]!, generation: res.generation, seq }));
    } catch (err) {
      this.observer.failed(table, err, performance.now() - started, batch.length);
      for (const p of batch) p.reject(err);
    }
  }
}
