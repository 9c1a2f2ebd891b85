// The resolver: the one lookup path of a proxy process (cache, coalescing,
// batching, deadlines, breaker, generation rules); every lookup settles by
// its deadline and a failure is never "not found".

import { LIMITS, type LookupQuery, type Service, type TableGenerationResult } from '../../common/contract/lookup.js';
import { SERVICE_FACTS } from '../../common/smtpd/services.js';
import { systemClock, type Clock, type Timer } from '../clock.js';
import type { Config } from '../config.js';
import { LogBudget, type Logger } from '../log.js';
import type { Upstream } from '../upstream/client.js';
import { AllEjectedError, CallError, SlowCallError, type CallFailure } from '../http/call-error.js';
import type { Answer } from './answer.js';
import { Batcher, type BatchItem, type BatchOutcome, type BatchResult } from './batcher.js';
import { Breaker } from './breaker.js';
import { AnswerCache, type CacheEntry } from './cache.js';
import { DeadlineList, type Timed } from './deadlines.js';
import { TableHandles, type TableHandle } from '../tables/table-handle.js';
import { TableGeneration } from './generation.js';
import { NO_OBSERVER, type ResolverObserver } from './observer.js';

/** Times a miss is asked again when its answer comes from a generation older than the newest known. */
const OLDER_ANSWER_RETRIES = 2;
/**
 * Tables answered on this host without the function (proxy/replica/): every
 * key, synchronously, or undefined when not. A table answered from there has
 * its sets from there too (EntrySets), all of one generation.
 */
export interface LocalTables {
  answer(table: string, service: Service, key: string): Answer | undefined;
  /** Whether `table` is answered there now: its upkeep confirms its generation, so the cache path's background check leaves it alone. */
  serving(table: string): boolean;
}


type Outcome = { ok: BatchResult } | { failure: string; timeout: boolean; unknownTable: boolean; denied?: true };

/** One key being asked of the function, and the callers waiting for its answer. */
interface Flight extends BatchItem {
  table: string;
  service: Service;
  key: string;
  ck: string;
  waiters: Waiter[];
  /** Times it was asked again because its answer came from a generation older than the newest known. */
  retries: number;
}

/** A caller waiting for a flight, until its deadline; `resolve` is cleared once it is answered. */
interface Waiter extends Timed {
  flight: Flight;
  resolve: ((a: Answer) => void) | undefined;
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
  /** The open tables: each holds the newest generation known of it, the only one answers are served from. */
  readonly handles = new TableHandles();
  /** Warnings about tables the function does not have: three per ten seconds, then a count. */
  private readonly missingTableLog = new LogBudget(3, 10_000);
  private readonly poller: Timer;
  private readonly pollMs: number;
  /** Cleared once the function answers that it has no generations request (it predates it): tables are then checked one at a time. */
  private checkTogether = true;
  private lastTable: string | undefined;
  private local: LocalTables | undefined;

  constructor(
    private readonly config: Config,
    private readonly upstream: Upstream,
    private readonly log: Logger,
    private readonly observer: ResolverObserver = NO_OBSERVER,
    /** The time TTLs, staleness, deadlines and the breaker go by. */
    readonly clock: Clock = systemClock,
  ) {
    this.cache = new AnswerCache(config.cache, clock);
    this.breaker = new Breaker(config.breaker, clock, () => this.probe(), (open, reason) => {
      if (open) this.log.warn({ reason }, 'upstream failing: circuit open, answering misses at once until it recovers');
      else this.log.info({ reason }, 'upstream recovered: circuit closed');
    });
    this.batcher = new Batcher(
      upstream,
      clock,
      { windowMs: config.upstream.batchWindowMs, max: config.upstream.batchMax, timeoutMs: config.upstream.deadlineMs },
      {
        sent: (table, size) => observer.requestSent(table, size),
        succeeded: (table, generation, seq, ms, epoch) => this.upstreamSucceeded(table, generation, epoch, seq, ms),
        failed: (table, err, ms, size) => this.upstreamFailed(table, err, ms, size),
      },
      (flight, outcome) => this.land(flight, outcome),
    );
    this.waiters = new DeadlineList<Waiter>(clock, (w) => this.answer(w, this.fallback(w.flight.table, w.flight.service, w.flight.ck, this.deadlineReason, true)));
    // Checked a few times per max_staleness, so confirmations arrive before hits would have to wait for one.
    this.pollMs = Math.max(25, Math.floor(config.cache.maxStalenessMs / 4));
    this.poller = clock.setInterval(() => this.checkTablesInUse(), this.pollMs);
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
    const started = this.clock.monotonic();
    this.observer.requestSent(table, 0);
    let res: T;
    try {
      res = await request();
    } catch (err) {
      this.upstreamFailed(table, err, this.clock.monotonic() - started, 0);
      throw err;
    }
    this.upstreamSucceeded(table, res.generation, res.epoch, seq, this.clock.monotonic() - started);
    return res;
  }

  private upstreamSucceeded(table: string, generation: number, epoch: number | undefined, seq: number, ms: number): void {
    this.observer.requestDone(table, 'ok', ms);
    // The function read the table's META after the request was sent: it was this generation then or later.
    this.observeGeneration(table, generation, epoch, seq, this.clock.now() - ms);
    this.breaker.succeeded();
  }

  private upstreamFailed(table: string, err: unknown, ms: number, queries: number): void {
    const cause = failureKind(err);
    this.observer.requestDone(table, cause, ms);
    // The one log line of this failure, whatever number of callers it answers.
    const status = err instanceof CallError && err.status !== undefined ? { status: err.status } : {};
    const fields = { table, cause, ...status, queries, ms: Math.round(ms) };
    // A missing table is asked for by every lookup of it: a few lines, then a count, not a line per request.
    if (err instanceof CallError && err.unknownTable) this.missingTableLog.warn(this.log, fields, `the function has no table ${table}: answered a temporary failure (what is cached of it still served)`);
    else this.log.warn(fields, `upstream request failed: ${describe(err)}`);
    if (isOutage(err)) this.breaker.failed(describe(err), err instanceof AllEjectedError);
    else this.breaker.succeeded();
  }

  /**
   * The synchronous hit path: a fresh cached answer of the table's current
   * generation, confirmed by the function within max_staleness, or undefined.
   */
  lookupCached(table: string, service: Service, key: string): Answer | undefined {
    if (this.local !== undefined) {
      const a = this.local.answer(table, service, key);
      if (a !== undefined) return a;
    }
    const entry = this.cache.get(cacheKey(table, service, key));
    if (entry === undefined) return undefined;
    const now = this.clock.now();
    if (entry.freshUntil <= now) return undefined;
    const h = this.handles.get(table);
    if (h === undefined) return undefined;
    if (!h.serves(entry.generation)) {
      this.cache.delete(cacheKey(table, service, key));
      return undefined;
    }
    if (now - h.generation.confirmedAt > this.config.cache.maxStalenessMs) return undefined;
    h.usedAt = now;
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

  /**
   * A generation-only request: the newest generation known of `table` once
   * the function has answered (an answer that arrives from an older state
   * than one already seen does not move the table back).
   */
  async checkGeneration(table: string): Promise<number> {
    const res = await this.observed(table, () => this.upstream.lookup(table, [], this.config.upstream.deadlineMs));
    return this.generation(table) ?? res.generation;
  }

  /** The rule of generation.ts for `table`: whether an answer of `generation` may be served now. */
  serves(table: string, generation: number): boolean {
    return this.handles.get(table)?.serves(generation) ?? false;
  }

  get circuitOpen(): boolean {
    return this.breaker.open;
  }

  generation(table: string): number | undefined {
    return this.handles.get(table)?.generation.generation;
  }

  /** Answers tables from `local` whenever it can, before the cache and the function. */
  answerLocally(local: LocalTables): void {
    this.local = local;
  }

  /** Every table answered for so far, with the newest generation seen. */
  *tableGenerations(): Iterable<[string, number]> {
    for (const h of this.handles) yield [h.name, h.generation.generation];
  }

  /** Callers waiting for the function right now. */
  get pending(): number {
    return this.waiting;
  }

  async close(): Promise<void> {
    this.clock.clear(this.poller);
    this.waiters.close();
    this.breaker.close();
    await this.upstream.close();
  }

  private miss(table: string, service: Service, key: string): Promise<Answer> {
    this.lastTable = table;
    const h = this.handles.get(table);
    if (h) h.usedAt = this.clock.now();
    const ck = cacheKey(table, service, key);
    if (this.breaker.open) return Promise.resolve(this.fallback(table, service, ck, 'upstream unavailable (circuit open)', false));

    let flight = this.inflight.get(ck);
    if (!flight) {
      const query: LookupQuery = { service, key };
      flight = { query, at: this.clock.monotonic(), table, service, key, ck, waiters: [], retries: 0 };
      this.inflight.set(ck, flight);
      this.batcher.enqueue(table, flight);
    }
    this.waiting++;
    const f = flight;
    return new Promise<Answer>((resolve) => {
      const w: Waiter = { deadline: this.clock.monotonic() + this.config.upstream.deadlineMs, prev: undefined, next: undefined, flight: f, resolve };
      f.waiters.push(w);
      this.waiters.add(w);
    });
  }

  /** A flight's answer (or failure) arrived: cached, then given to every caller still waiting for it. */
  private land(flight: Flight, outcome: BatchOutcome): void {
    if (!('error' in outcome) && !this.serves(flight.table, outcome.generation) && flight.retries < OLDER_ANSWER_RETRIES && flight.waiters.some((w) => w.resolve !== undefined)) {
      // The answer was read from a generation older than one another request
      // has revealed since (requests overtake each other): asked again, under
      // the callers' own deadlines, rather than served.
      flight.retries++;
      this.batcher.enqueue(flight.table, flight);
      return;
    }
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
      const timeout = err instanceof CallError && err.code === 'timeout';
      const denied = err instanceof CallError && err.accessDenied ? { denied: true as const } : {};
      return { failure: timeout && !(err instanceof SlowCallError) ? this.deadlineReason : describe(err), timeout, unknownTable: err instanceof CallError && err.unknownTable, ...denied };
    }
    const r = outcome.result;
    if (r.s === 'error') {
      // The key may be a secret (an smtpd `auth` key is user:password): not even an echo of it is kept.
      const reason = r.reason.split(key).join('[key]');
      // Once per key asked, however many callers were waiting for it.
      this.log.warn({ table, service, cause: 'function', queries: 1 }, `the function answered error for a key: ${reason}`);
      return { ok: { ...outcome, result: { s: 'error', reason } } };
    }
    const now = this.clock.now();
    const fresh = now + (r.s === 'found' ? this.config.cache.ttlMs : this.config.cache.negativeTtlMs);
    const entry: CacheEntry = {
      value: r.s === 'found' ? r.value : undefined,
      generation: outcome.generation,
      freshUntil: fresh,
      staleUntil: r.s === 'found' ? fresh + this.staleMs(table, service) : fresh,
    };
    if (this.serves(table, entry.generation)) this.cache.set(ck, entry);
    return { ok: outcome };
  }

  private settle(table: string, service: Service, ck: string, outcome: Outcome): Answer {
    if ('failure' in outcome && outcome.denied) {
      // Access was withdrawn: what this host cached of the table is no longer its to read.
      this.cache.delete(ck);
      this.observer.answered(table, service, 'error');
      return { kind: 'error', reason: outcome.failure, timeout: false };
    }
    if ('failure' in outcome) {
      // A table the function does not have (deleted, not loaded yet, a backend restarted empty) is an
      // operator's mistake that must delay mail, not misroute it: what is cached is served meanwhile.
      return this.fallback(table, service, ck, outcome.failure, outcome.timeout, outcome.unknownTable);
    }
    if (!this.serves(table, outcome.ok.generation)) {
      // Still older than the newest known after being asked again.
      return this.fallback(table, service, ck, `the function kept answering from generation ${outcome.ok.generation}, older than ${this.generation(table)}`, false);
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
   * The answer when the function could not give one: a cached answer of the
   * newest known generation, still fresh (only that generation could not be
   * confirmed), or a stale value of it inside its window, else an error. A
   * cached answer of any other generation is dropped here, never served.
   */
  private fallback(table: string, service: Service, ck: string, reason: string, timeout: boolean, unknownTable = false): Answer {
    let entry = this.cache.get(ck);
    if (entry !== undefined && !this.serves(table, entry.generation)) {
      this.cache.delete(ck);
      entry = undefined;
    }
    const now = this.clock.now();
    if (entry !== undefined && now < entry.freshUntil) {
      this.observer.answered(table, service, 'stale');
      return entry.value === undefined ? { kind: 'not-found', source: 'stale' } : { kind: 'found', value: entry.value, source: 'stale' };
    }
    if (entry?.value !== undefined && now < entry.staleUntil && this.staleMs(table, service) > 0) {
      this.observer.answered(table, service, 'stale');
      return { kind: 'found', value: entry.value, source: 'stale' };
    }
    this.observer.answered(table, service, timeout ? 'timeout' : 'error');
    return unknownTable ? { kind: 'error', reason, timeout, unknownTable } : { kind: 'error', reason, timeout };
  }

  private get deadlineReason(): string {
    return `no answer within ${this.config.upstream.deadlineMs} ms`;
  }

  private staleMs(table: string, service: Service): number {
    if (SERVICE_FACTS[service].neverStale) return 0;
    return this.config.tables[table]?.staleMs ?? this.config.cache.staleMs;
  }

  /** Takes an answer's (generation, epoch) into the table's generation tracking. */
  private observeGeneration(table: string, generation: number, epoch: number | undefined, seq: number, sentAt: number): void {
    const h = this.handles.get(table);
    if (h === undefined) {
      this.handles.open(table, new TableGeneration(generation, epoch, seq, sentAt));
      return;
    }
    const from = h.generation.generation;
    if (h.generation.observe(generation, epoch, seq, sentAt) === 'newer' && from !== generation) {
      // Entries of the older generation stay in the LRU until evicted or met: every source asks serves() first.
      this.log.info({ table, from, to: generation, epoch }, 'table generation changed: answers cached from other generations are no longer served, and are dropped as they are met');
    }
  }

  /**
   * Once a table in use has gone unconfirmed for half of max_staleness,
   * checks it together with every other table in use that would fall due
   * before the next tick: one request (one invocation) for all of this
   * process's tables, once per interval at most, whatever their number.
   * Tables whose lookups reached the function recently are confirmed by
   * those and skipped; tables not asked for longer than the cache TTL are
   * not checked at all.
   */
  private checkTablesInUse(): void {
    if (this.breaker.open) return; // the breaker's probe finds out when the function is back
    const now = this.clock.now();
    const inUse = Math.max(this.config.cache.ttlMs, this.config.cache.negativeTtlMs);
    const half = this.config.cache.maxStalenessMs / 2;
    const soon: TableHandle[] = [];
    let due = false;
    for (const h of this.handles) {
      if (now - h.usedAt > inUse || h.checking || this.local?.serving(h.name)) continue;
      const age = now - h.generation.confirmedAt;
      if (age >= half) due = true;
      if (age >= half - this.pollMs) soon.push(h);
    }
    if (!due) return;
    for (const h of soon) h.checking = true;
    const tables = soon.map((h) => h.name);
    // A failure is logged and counted where it happens; the next tick tries again.
    this.generationsOf(tables).catch(() => undefined).finally(() => soon.forEach((h) => (h.checking = false)));
  }

  /**
   * The active generation of each of `tables` (with its count and digest),
   * each taken as a lookup's answer would be: one generations request (in
   * chunks of the contract's limit) for several tables, a generation-only
   * lookup for one. A function that predates the generations request is
   * asked one table at a time from then on. A table the function could not
   * answer is returned with the cause (logged and counted here); throws
   * only when a whole request failed.
   */
  async generationsOf(tables: string[]): Promise<TableGenerationResult[]> {
    if (this.breaker.open) throw new Error('upstream unavailable (circuit open)'); // the breaker's probe finds out when the function is back
    if (tables.length < 2 || !this.checkTogether || !this.upstream.generations) return this.oneByOne(tables);
    const out: TableGenerationResult[] = [];
    for (let i = 0; i < tables.length; i += LIMITS.maxQueries) {
      const chunk = tables.slice(i, i + LIMITS.maxQueries);
      const seq = this.batcher.nextSeq();
      const started = this.clock.monotonic();
      this.observer.requestSent(GENERATIONS_LABEL, 0);
      let res;
      try {
        res = await this.upstream.generations!(chunk, this.config.upstream.deadlineMs);
      } catch (err) {
        if (err instanceof CallError && err.functionCode === 'no-route') {
          this.observer.requestDone(GENERATIONS_LABEL, err.code, this.clock.monotonic() - started);
          this.checkTogether = false;
          this.log.info({ tables: tables.length }, 'the function has no generations request (an older version): tables are checked one at a time');
          out.push(...(await this.oneByOne(tables.slice(i))));
          return out;
        }
        this.upstreamFailed(GENERATIONS_LABEL, err, this.clock.monotonic() - started, 0);
        throw err;
      }
      const ms = this.clock.monotonic() - started;
      this.observer.requestDone(GENERATIONS_LABEL, 'ok', ms);
      this.breaker.succeeded();
      for (const r of res.tables) {
        // The function read each META after the request was sent.
        if ('generation' in r) this.observeGeneration(r.table, r.generation, r.epoch, seq, this.clock.now() - ms);
        else this.log.warn({ table: r.table, cause: r.error }, 'generation check: the function has no generation of this table to give');
      }
      out.push(...res.tables);
    }
    return out;
  }

  /** A generation-only lookup per table; a table's failure (logged and counted by observed()) is its answer, not the others'. */
  private oneByOne(tables: string[]): Promise<TableGenerationResult[]> {
    return Promise.all(
      tables.map(async (table): Promise<TableGenerationResult> => {
        try {
          const { generation, epoch, count, digest } = await this.observed(table, () => this.upstream.lookup(table, [], this.config.upstream.deadlineMs));
          return { table, generation, ...(epoch !== undefined && { epoch }), ...(count !== undefined && { count }), ...(digest !== undefined && { digest }) };
        } catch (err) {
          if (tables.length === 1) throw err;
          return { table, error: err instanceof CallError && err.functionCode ? err.functionCode : failureKind(err) };
        }
      }),
    );
  }

  /** Recovery probe while the circuit is open: a generation-only request. */
  private async probe(): Promise<void> {
    const table = this.lastTable;
    if (table === undefined) return;
    const started = this.clock.monotonic();
    this.observer.requestSent(table, 0);
    try {
      await this.upstream.lookup(table, [], Math.min(this.config.upstream.deadlineMs, 1000));
      this.observer.requestDone(table, 'ok', this.clock.monotonic() - started);
    } catch (err) {
      this.observer.requestDone(table, failureKind(err), this.clock.monotonic() - started);
      // Logged at debug: while the circuit is open, its opening line says why.
      this.log.debug({ table, cause: failureKind(err) }, `recovery probe failed: ${describe(err)}`);
      if (isOutage(err)) throw err;
    }
  }
}

/** The metrics' table label of a generation check of several tables at once. */
export const GENERATIONS_LABEL = '(generations)';

export function cacheKey(table: string, service: Service, key: string): string {
  return `${table}\0${service}\0${key}`;
}

/** Failures that say the function is unreachable or unwell, as opposed to refusing one request. */
function isOutage(err: unknown): boolean {
  return !(err instanceof CallError) || err.outage;
}

function failureKind(err: unknown): CallFailure {
  return err instanceof CallError ? err.code : 'network';
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
