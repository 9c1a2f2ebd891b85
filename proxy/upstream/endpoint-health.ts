// What the proxy knows of one reader endpoint from its recent calls: an
// EWMA of latency (to pick the fastest), a window of latencies (its 95th
// percentile sets the hedge delay and the adaptive slow-call threshold),
// and outlier ejection: consecutive failures or slow calls take it out for
// a while, after which one call probes it back (Envoy's outlier detection,
// Resilience4j's slow-call rate, in their simplest form).

export interface HealthOptions {
  /** Consecutive failures (slow calls included) that eject the endpoint. */
  failures: number;
  /** How long an ejected endpoint is left alone before one call probes it. */
  ejectMs: number;
  /** Fixed slow-call threshold (ms); 0: adaptive. */
  slowCallMs: number;
  /** The adaptive threshold never goes below this (a cold start). */
  slowCallFloorMs: number;
}

const WINDOW = 64;
const ALPHA = 0.3;
/** How much a call that lost to another endpoint's answer weighs in the estimate. */
const LOST_WEIGHT = 0.5;
/** An estimate older than this is refreshed by a call sent there too, within the hedge budget (hedged.ts). */
export const REFRESH_MS = 1000;
/**
 * An estimate older than this is refreshed outside the budget: with the
 * budget spent or set to 0, an endpoint that fell behind would otherwise
 * never be asked again. One call per endpoint per 30 s costs nothing.
 */
export const REFRESH_MAX_MS = 30_000;

export class EndpointHealth {
  private readonly latencies: number[] = [];
  private next = 0;
  private ewma: number | undefined;
  private consecutive = 0;
  private ejectedUntil = 0;
  private probing = false;
  private lastSampleAt = 0;
  /** Times it was ejected, and calls still unanswered at the slow-call threshold, since the start (metrics). */
  ejections = 0;
  slowCalls = 0;

  constructor(private readonly options: HealthOptions) {}

  /** Recent latency estimate (ms), 0 before any answer, so a new endpoint gets tried. */
  get latencyMs(): number {
    return this.ewma ?? 0;
  }

  /** Whether calls may go here now (an ejected endpoint takes one probe once its time is up). */
  available(now: number): boolean {
    return this.ejectedUntil === 0 || (now >= this.ejectedUntil && !this.probing);
  }

  /** Failing now (its last call failed or was slow): not worth a hedge. */
  get failing(): boolean {
    return this.consecutive > 0;
  }

  get ejected(): boolean {
    return this.ejectedUntil !== 0;
  }

  /** Ejected, its time up, and no probe in flight: the next call here is its probe. */
  probeDue(now: number): boolean {
    return this.ejectedUntil !== 0 && now >= this.ejectedUntil && !this.probing;
  }

  /** A call starts; returns whether it is the probe of an ejected endpoint. */
  started(now: number): boolean {
    if (this.ejectedUntil !== 0 && now >= this.ejectedUntil) {
      this.probing = true;
      return true;
    }
    return false;
  }

  /**
   * Whether the latency estimate is old enough to be refreshed: `budget`
   * (a hedge token pays for it) once it is REFRESH_MS old, `overdue` once it
   * is REFRESH_MAX_MS old, whatever the budget holds.
   */
  refreshDue(now: number, tokens: boolean): 'budget' | 'overdue' | undefined {
    const age = now - this.lastSampleAt;
    if (age >= REFRESH_MAX_MS) return 'overdue';
    return tokens && age >= REFRESH_MS ? 'budget' : undefined;
  }

  /** A refresh was sent: the next is due an interval from now. */
  refreshing(now: number): void {
    this.lastSampleAt = now;
  }

  /**
   * A call here lost to another endpoint's answer after `ms`: it would have
   * taken at least that long. Weighed half (more than an answer, being a
   * lower bound) rather than taken whole: one stuck invocation must not
   * hand the traffic to a slower endpoint until the next refresh (the
   * failback test caught that); two or three in a row do.
   */
  lost(ms: number, now: number): void {
    this.lastSampleAt = now;
    this.ewma = this.ewma === undefined ? ms : LOST_WEIGHT * Math.max(ms, this.ewma) + (1 - LOST_WEIGHT) * this.ewma;
    // A probe that lost says nothing either way: the next call probes again.
    this.probing = false;
  }

  succeeded(ms: number, now: number): void {
    this.lastSampleAt = now;
    this.latencies[this.next] = ms;
    this.next = (this.next + 1) % WINDOW;
    // Back from failing or ejection: the penalties say nothing about it any more.
    // A call at under half the estimate is believed at once (an endpoint that got
    // better, seen by a refresh once a second); getting worse is smoothed.
    const recovered = this.consecutive > 0 || this.ejectedUntil !== 0 || (this.ewma !== undefined && ms < this.ewma / 2);
    this.ewma = this.ewma === undefined || recovered ? ms : ALPHA * ms + (1 - ALPHA) * this.ewma;
    this.consecutive = 0;
    this.ejectedUntil = 0;
    this.probing = false;
  }

  /** A call still unanswered at the slow-call threshold: a failure. */
  slow(now: number): void {
    this.slowCalls++;
    this.failed(now);
  }

  /** A failure (an outage: refused, reset, 5xx, throttled). */
  failed(now: number): void {
    this.lastSampleAt = now;
    // A failure weighs as a call that took the slow-call threshold, so the endpoint drops behind healthy ones.
    const penalty = this.slowCallMs();
    this.ewma = this.ewma === undefined ? penalty : ALPHA * penalty + (1 - ALPHA) * this.ewma;
    this.consecutive++;
    if (this.probing || this.consecutive >= this.options.failures) {
      if (this.ejectedUntil === 0) this.ejections++;
      this.ejectedUntil = now + this.options.ejectMs;
      this.probing = false;
    }
  }

  /** 95th percentile of the recent answers (ms), undefined before enough of them. */
  p95(): number | undefined {
    if (this.latencies.length < 8) return undefined;
    const sorted = [...this.latencies].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))];
  }

  /** When an unanswered call counts as slow. */
  slowCallMs(): number {
    if (this.options.slowCallMs > 0) return this.options.slowCallMs;
    return Math.max(this.options.slowCallFloorMs, 4 * (this.p95() ?? 0));
  }
}
