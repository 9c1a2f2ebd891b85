// The time the resolver, the entry sets, the breaker and the caches go by,
// injectable so that tests of TTLs, staleness, deadlines and the breaker
// run on a clock they move by hand instead of sleeping. `now` is wall time
// (TTLs, confirmations: compared with times that outlive a request);
// `monotonic` is for deadlines and durations (never jumps). Production code
// takes `systemClock`; a test clock moves both together and fires its
// timers as it moves (test/helpers/clock.ts).

/** A pending timer; `unref` keeps it from holding the process open. */
export interface Timer {
  unref(): unknown;
}

export interface Clock {
  /** Milliseconds of wall time, as Date.now(). */
  now(): number;
  /** Milliseconds of monotonic time, as performance.now(). */
  monotonic(): number;
  setTimeout(fn: () => void, ms: number): Timer;
  setInterval(fn: () => void, ms: number): Timer;
  /** Cancels a timeout or an interval (undefined: nothing to cancel). */
  clear(timer: Timer | undefined): void;
}

export const systemClock: Clock = {
  now: Date.now,
  monotonic: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clear: (timer) => clearTimeout(timer as NodeJS.Timeout | undefined),
};
