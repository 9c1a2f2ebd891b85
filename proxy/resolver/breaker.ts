// The circuit breaker in front of the function: opened by consecutive
// failures, probed on its clock until the function answers again.
//
// One breaker notion, at two scales. A failure is the same thing for both:
// an outage answer (refused, reset, 5xx, throttled) or a call still
// unanswered at the slow-call threshold (`breaker.slow_call_ms`, adaptive),
// and both count `breaker.failures` of them in a row. Each endpoint is
// ejected after that many of its own calls failed (upstream/
// endpoint-health.ts: outlier ejection, probed by the next call once its
// time is up); this circuit, in front of all of them, opens after that many
// failed lookups, or at once when the client says every endpoint is
// ejected: it is the state "no endpoint can answer", where misses are
// answered at once and recovery is probed in the background.

import type { Clock, Timer } from '../clock.js';

export interface BreakerOptions {
  failures: number;
  probeIntervalMs: number;
}

/**
 * A circuit breaker. smtpd 7.8 sends one request at a time for its whole
 * lookup process and has no timeout, so while the function is known to be
 * failing, waiting out the deadline on every miss would stall every SMTP
 * session. Opened by consecutive failures; while open, callers answer at
 * once, and `probe` runs in the background until one succeeds.
 */
export class Breaker {
  private consecutive = 0;
  private timer: Timer | undefined;
  private probing = false;
  private openedAt = 0;

  constructor(
    private readonly options: BreakerOptions,
    private readonly clock: Clock,
    private readonly probe: () => Promise<void>,
    private readonly onChange: (open: boolean, reason: string) => void = () => {},
  ) {}

  get open(): boolean {
    return this.timer !== undefined;
  }

  succeeded(): void {
    this.consecutive = 0;
    if (this.timer) {
      this.clock.clear(this.timer);
      this.timer = undefined;
      this.onChange(false, `upstream answered again after ${Math.round(this.clock.monotonic() - this.openedAt)} ms`);
    }
  }

  /** `now`: open without waiting for the count (every endpoint is out already). */
  failed(reason: string, now = false): void {
    this.consecutive++;
    if (!this.timer && (now || this.consecutive >= this.options.failures)) {
      this.openedAt = this.clock.monotonic();
      this.timer = this.clock.setInterval(() => this.runProbe(), this.options.probeIntervalMs);
      this.timer.unref();
      this.onChange(true, reason);
    }
  }

  private runProbe(): void {
    if (this.probing) return;
    this.probing = true;
    this.probe().then(
      () => {
        this.probing = false;
        this.succeeded();
      },
      () => {
        this.probing = false;
      },
    );
  }

  close(): void {
    this.clock.clear(this.timer);
    this.timer = undefined;
  }
}
