import { LIMITS, type LookupQuery, type Service } from '../../common/contract/lookup.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { UpstreamError, type Upstream, type UpstreamFailure } from '../upstream/client.js';
import type { Answer } from './answer.js';
import { Batcher, type BatchItem, type BatchOutcome, type BatchResult } from './batcher.js';
import { Breaker } from './breaker.js';
import { AnswerCache, type CacheEntry } from './cache.js';
import { DeadlineList, type Timed } from './deadlines.js';
import { NO_OBSERVER, type ResolverObserver } from './observer.js';

/** Services whose values are never served stale: a revoked password must stop working. */
const NEVER_STALE = new Set<Service>(['credentials', 'auth']);

type Outcome = { ok: BatchResult } | { failure: string; timeout: boolean; unknownTable: boolean };

/** One key being asked of the function, and the callers waiting for its answer. */
interface Flight extends BatchItem {
  table: string;
  service: Service;
  key: string;
  ck: string;
  waiters: Waiter[];
}

/** A caller waiting for a flight, until its deadline; `resolve` is cleared once it is answered. */
interface Waiter extends Timed {
  flight: Flight;
  resolve: ((a: Answer) => void) | undefined;
}

/** What the resolver knows of a table's active generation. */
interface TableState {
  generation: number;
  /** The epoch it was answered with; undefined from a function that predates epochs (request order decides then). */
  epoch: number | undefined;
  /** Order the confirming request was sent in. */
  seq: number;
  /** When (Date.now()) the last request that confirmed this generation was sent. */
  confirmedAt: number;
  /** The table's last lookup: only tables in use are checked in the background. */
  usedAt: number;
}

/**
 * One per process, shared by every front end and connection: the cache,
 * coalescing of identical misses, batching, the per-request deadline and the
 * circuit breaker. `lookup` always settles, by the deadline at the latest.
 */
export class Resolver {
  readonly cache: AnswerCache;
  /** Callers waiting for an answer from the function. */
  private waiting = 0;
  private readonly inflight = new Map<string, Flight>();
  private readonly waiters: DeadlineList<Waiter>;
  private readonly batcher: Batcher<Flight>;
  private readonly breaker: Breaker;
  /** The newest generation seen per table. */
  private readonly generations = new Map<string, TableState>();
  /** Tables whose generation is being checked in the background. */
  private readonly checking = new Set<string>();
  private readonly poller: NodeJS.Timeout;
  private lastTable: string | undefined;

  constructor(
    private readonly config: Config,
    private readonly upstream: Upstream,
    private readonly log: Logger,
    private readonly observer: ResolverObserver = NO_OBSERVER,
  ) {
    this.cache = new AnswerCache(config.cache);
    this.breaker = new Breaker(config.breaker, () => this.probe(), (open, reason) => {
      if (open) this.log.warn({ reason }, 'upstream failing: circuit open, answering misses at once until it recovers');
      else this.log.info({ reason }, 'upstream recovered: circuit closed');
    });
    this.batcher = new Batcher(
      upstream,
      { windowMs: config.upstream.batchWindowMs, max: config.upstream.batchMax, timeoutMs: config.upstream.deadlineMs },
      {
        sent: (table, size) => observer.requestSent(table, size),
        succeeded: (table, generation, seq, ms, epoch) => this.upstreamSucceeded(table, generation, epoch, seq, ms),
        failed: (table, err, ms, size) => this.upstreamFailed(table, err, ms, size),
      },
      (flight, outcome) => this.land(flight, outcome),
    );
    this.waiters = new DeadlineList<Waiter>((w) => this.answer(w, this.fallback(w.flight.table, w.flight.service, w.flight.ck, this.deadlineReason, true)));
    // Checked a few times per max_staleness, so confirmations arrive before hits would have to wait for one.
    this.poller = setInterval(() => this.checkTablesInUse(), Math.max(25, Math.floor(config.cache.maxStalenessMs / 4)));
    this.poller.unref();
  }

  /**
   * Sends a request that is not a lookup but whose answer carries the
   * table's generation (a listing), in order with the lookups: a newer
   * generation it reveals drops older cached answers, and its failures count
   * towards the circuit breaker like any other. Rejects at once while the
   * circuit is open.
   */
  async observed<T extends { generation: number; epoch?: number }>(table: string, request: () => Promise<T>): Promise<T> {
    if (this.breaker.open) throw new Error('upstream unavailable (circuit open)');
    this.lastTable = table;
    const seq = this.batcher.nextSeq();
    const started = performance.now();
    this.observer.requestSent(table, 0);
    let res: T;
    try {
      res = await request();
    } catch (err) {
      this.upstreamFailed(table, err, performance.now() - started, 0);
      throw err;
    }
    this.upstreamSucceeded(table, res.generation, res.epoch, seq, performance.now() - started);
    return res;
  }

  private upstreamSucceeded(table: string, generation: number, epoch: number | undefined, seq: number, ms: number): void {
    this.observer.requestDone(table, 'ok', ms);
    // The function read the table's META after the request was sent: it was this generation then or later.
    this.observeGeneration(table, generation, epoch, seq, Date.now() - ms);
    this.breaker.succeeded();
  }

  private upstreamFailed(table: string, err: unknown, ms: number, queries: number): void {
    const cause = failureKind(err);
    this.observer.requestDone(table, cause, ms);
    // The one log line of this failure, whatever number of callers it answers.
    const status = err instanceof UpstreamError && err.status !== undefined ? { status: err.status } : {};
    this.log.warn({ table, cause, ...status, queries, ms: Math.round(ms) }, `upstream request failed: ${describe(err)}`);
    if (isOutage(err)) this.breaker.failed(describe(err));
    else this.breaker.succeeded();
  }

  /**
   * The synchronous hit path: a fresh cached answer of the table's current
   * generation, confirmed by the function within max_staleness, or undefined.
   */
  lookupCached(table: string, service: Service, key: string): Answer | undefined {
    const entry = this.cache.get(cacheKey(table, service, key));
    if (entry === undefined) return undefined;
    const now = Date.now();
    if (entry.freshUntil <= now) return undefined;
    const g = this.generations.get(table);
    if (g === undefined || g.generation !== entry.generation || now - g.confirmedAt > this.config.cache.maxStalenessMs) return undefined;
    g.usedAt = now;
    if (entry.value === undefined) {
      this.observer.answered(table, service, 'negative');
      return { kind: 'not-found', source: 'cache' };
    }
    this.observer.answered(table, service, 'hit');
    return { kind: 'found', value: entry.value, source: 'cache' };
  }

  lookup(table: string, service: Service, key: string): Promise<Answer> {
    if (key.length === 0 || (key.length > LIMITS.maxKeyBytes / 3 && Buffer.byteLength(key) > LIMITS.maxKeyBytes)) {
      // No such key can be stored, so "not found" is the truth, not a guess.
      this.observer.answered(table, service, 'negative');
      return Promise.resolve({ kind: 'not-found', source: 'cache' });
    }
    return Promise.resolve(this.lookupCached(table, service, key) ?? this.miss(table, service, key));
  }

  /**
   * smtpd `update`: asks the function for the table's generation now, then
   * starts afresh from it. Fails, keeping the cache, when the function
   * cannot answer: there is nothing better to start from.
   */
  async update(table: string): Promise<void> {
    await this.checkGeneration(table);
    this.cache.clear();
  }

  /** A generation-only request: what the function's active generation of `table` is now. */
  async checkGeneration(table: string): Promise<number> {
    const res = await this.observed(table, () => this.upstream.lookup(table, [], this.config.upstream.deadlineMs));
    return res.generation;
  }

  get circuitOpen(): boolean {
    return this.breaker.open;
  }

  generation(table: string): number | undefined {
    return this.generations.get(table)?.generation;
  }

  /** Every table answered for so far, with the newest generation seen. */
  *tableGenerations(): Iterable<[string, number]> {
    for (const [table, g] of this.generations) yield [table, g.generation];
  }

  /** Callers waiting for the function right now. */
  get pending(): number {
    return this.waiting;
  }

  async close(): Promise<void> {
    clearInterval(this.poller);
    this.waiters.close();
    this.breaker.close();
    await this.upstream.close();
  }

  private miss(table: string, service: Service, key: string): Promise<Answer> {
    this.lastTable = table;
    const g = this.generations.get(table);
    if (g) g.usedAt = Date.now();
    const ck = cacheKey(table, service, key);
    if (this.breaker.open) return Promise.resolve(this.fallback(table, service, ck, 'upstream unavailable (circuit open)', false));

    let flight = this.inflight.get(ck);
    if (!flight) {
      const query: LookupQuery = { service, key };
      flight = { query, at: performance.now(), table, service, key, ck, waiters: [] };
      this.inflight.set(ck, flight);
      this.batcher.enqueue(table, flight);
    }
    this.waiting++;
    const f = flight;
    return new Promise<Answer>((resolve) => {
      const w: Waiter = { deadline: performance.now() + this.config.upstream.deadlineMs, prev: undefined, next: undefined, flight: f, resolve };
      f.waiters.push(w);
      this.waiters.add(w);
    });
  }

  /** A flight's answer (or failure) arrived: cached, then given to every caller still waiting for it. */
  private land(flight: Flight, outcome: BatchOutcome): void {
    this.inflight.delete(flight.ck);
    const o = this.outcome(flight, outcome);
    for (const w of flight.waiters) {
      if (w.resolve === undefined) continue; // answered at its deadline
      this.waiters.remove(w);
      this.answer(w, this.settle(flight.table, flight.service, flight.ck, o));
    }
  }

  private answer(w: Waiter, a: Answer): void {
    const resolve = w.resolve!;
    w.resolve = undefined;
    this.waiting--;
    resolve(a);
  }

  private outcome({ table, service, key, ck }: Flight, outcome: BatchOutcome): Outcome {
    if ('error' in outcome) {
      // The request was aborted at the first caller's deadline: the same answer as the caller's own timer.
      const err = outcome.error;
      const timeout = err instanceof UpstreamError && err.kind === 'timeout';
      return { failure: timeout ? this.deadlineReason : describe(err), timeout, unknownTable: err instanceof UpstreamError && err.unknownTable };
    }
    const r = outcome.result;
    if (r.s === 'error') {
      // The key may be a secret (an smtpd `auth` key is user:password): not even an echo of it is kept.
      const reason = r.reason.split(key).join('[key]');
      // Once per key asked, however many callers were waiting for it.
      this.log.warn({ table, service, cause: 'function', queries: 1 }, `the function answered error for a key: ${reason}`);
      return { ok: { ...outcome, result: { s: 'error', reason } } };
    }
    const now = Date.now();
    const fresh = now + (r.s === 'found' ? this.config.cache.ttlMs : this.config.cache.negativeTtlMs);
    const entry: CacheEntry = {
      value: r.s === 'found' ? r.value : undefined,
      generation: outcome.generation,
      freshUntil: fresh,
      staleUntil: r.s === 'found' ? fresh + this.staleMs(table, service) : fresh,
    };
    if (this.isCurrent(table, entry)) this.cache.set(ck, entry);
    return { ok: outcome };
  }

  private settle(table: string, service: Service, ck: string, outcome: Outcome): Answer {
    if ('failure' in outcome) {
      if (outcome.unknownTable) {
        // Nothing cached can stand in for a table that does not exist.
        this.observer.answered(table, service, 'error');
        return { kind: 'error', reason: outcome.failure, timeout: false, unknownTable: true };
      }
      return this.fallback(table, service, ck, outcome.failure, outcome.timeout);
    }
    const r = outcome.ok.result;
    if (r.s === 'found') {
      this.observer.answered(table, service, 'miss');
      return { kind: 'found', value: r.value, source: 'upstream' };
    }
    if (r.s === 'not-found') {
      this.observer.answered(table, service, 'miss');
      return { kind: 'not-found', source: 'upstream' };
    }
    return this.fallback(table, service, ck, r.reason, false);
  }

  /**
   * The answer when the function could not give one: a cached answer still
   * fresh (only its generation could not be confirmed), a stale value inside
   * its window, else an error.
   */
  private fallback(table: string, service: Service, ck: string, reason: string, timeout: boolean): Answer {
    const entry = this.cache.get(ck);
    const now = Date.now();
    if (entry !== undefined && now < entry.freshUntil && this.isCurrent(table, entry)) {
      this.observer.answered(table, service, 'stale');
      return entry.value === undefined ? { kind: 'not-found', source: 'stale' } : { kind: 'found', value: entry.value, source: 'stale' };
    }
    if (entry?.value !== undefined && now < entry.staleUntil && this.staleMs(table, service) > 0) {
      this.observer.answered(table, service, 'stale');
      return { kind: 'found', value: entry.value, source: 'stale' };
    }
    this.observer.answered(table, service, timeout ? 'timeout' : 'error');
    return { kind: 'error', reason, timeout };
  }

  private get deadlineReason(): string {
    return `no answer within ${this.config.upstream.deadlineMs} ms`;
  }

  private staleMs(table: string, service: Service): number {
    if (NEVER_STALE.has(service)) return 0;
    return this.config.tables[table]?.staleMs ?? this.config.cache.staleMs;
  }

  private isCurrent(table: string, entry: CacheEntry): boolean {
    const g = this.generations.get(table);
    return g === undefined || g.generation === entry.generation;
  }

  /**
   * Takes an answer's generation if it is newer than what is known: by epoch
   * (a rollback reactivates an older generation number with a higher epoch),
   * by request order where the function sends no epoch. An answer of the
   * known generation confirms it.
   */
  private observeGeneration(table: string, generation: number, epoch: number | undefined, seq: number, sentAt: number): void {
    const g = this.generations.get(table);
    const newer = g === undefined || (epoch !== undefined && g.epoch !== undefined ? epoch > g.epoch : seq > g.seq && (epoch !== g.epoch || generation !== g.generation));
    if (newer) {
      if (g !== undefined && g.generation !== generation) this.log.info({ table, from: g.generation, to: generation, epoch }, 'table generation changed: older cached answers dropped');
      this.generations.set(table, { generation, epoch, seq, confirmedAt: sentAt, usedAt: g?.usedAt ?? Date.now() });
    } else if (generation === g.generation && epoch === g.epoch) {
      g.confirmedAt = Math.max(g.confirmedAt, sentAt);
      g.seq = Math.max(g.seq, seq);
    }
  }

  /** Checks the generation of every table in use that has not been confirmed for half of max_staleness. */
  private checkTablesInUse(): void {
    if (this.breaker.open) return; // the breaker's probe finds out when the function is back
    const now = Date.now();
    const inUse = Math.max(this.config.cache.ttlMs, this.config.cache.negativeTtlMs);
    for (const [table, g] of this.generations) {
      if (now - g.usedAt > inUse || now - g.confirmedAt < this.config.cache.maxStalenessMs / 2 || this.checking.has(table)) continue;
      this.checking.add(table);
      this.checkGeneration(table)
        // A failure is logged and counted by observed(); the next tick tries again.
        .catch(() => undefined)
        .finally(() => this.checking.delete(table));
    }
  }

  /** Recovery probe while the circuit is open: a generation-only request. */
  private async probe(): Promise<void> {
    const table = this.lastTable;
    if (table === undefined) return;
    const started = performance.now();
    this.observer.requestSent(table, 0);
    try {
      await this.upstream.lookup(table, [], Math.min(this.config.upstream.deadlineMs, 1000));
      this.observer.requestDone(table, 'ok', performance.now() - started);
    } catch (err) {
      this.observer.requestDone(table, failureKind(err), performance.now() - started);
      // Logged at debug: while the circuit is open, its opening line says why.
      this.log.debug({ table, cause: failureKind(err) }, `recovery probe failed: ${describe(err)}`);
      if (isOutage(err)) throw err;
    }
  }
}

export function cacheKey(table: string, service: Service, key: string): string {
  return `${table}\0${service}\0${key}`;
}

/** Failures that say the function is unreachable or unwell, as opposed to refusing one request. */
function isOutage(err: unknown): boolean {
  if (!(err instanceof UpstreamError)) return true;
  if (err.kind !== 'http') return true;
  const s = err.status ?? 0;
  return s >= 500 || s === 429 || s === 408;
}

function failureKind(err: unknown): UpstreamFailure {
  return err instanceof UpstreamError ? err.kind : 'network';
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
