// A clock tests move by hand (proxy/clock.ts): wall and monotonic time move
// together, and timers fire, in due order, as the test advances it. Time
// does not pass otherwise, so TTL, staleness, deadline and breaker tests
// take no real time and cannot be late on a loaded machine.

import type { Clock, Timer } from '../../proxy/clock.js';

interface FakeTimer extends Timer {
  due: number;
  /** Repeats this often (an interval), or fires once. */
  every: number | undefined;
  fn: () => void;
  cancelled: boolean;
}

export class FakeClock implements Clock {
  private t = 0;
  private readonly timers = new Set<FakeTimer>();

  /** Wall time starts at the real time of creation. */
  constructor(private readonly wallStart = Date.now()) {}

  now = (): number => this.wallStart + this.t;
  monotonic = (): number => this.t;

  setTimeout(fn: () => void, ms: number): Timer {
    return this.add(fn, ms, undefined);
  }

  setInterval(fn: () => void, ms: number): Timer {
    return this.add(fn, ms, Math.max(1, ms));
  }

  clear(timer: Timer | undefined): void {
    const t = timer as FakeTimer | undefined;
    if (t === undefined) return;
    t.cancelled = true;
    this.timers.delete(t);
  }

  /** Timers pending. */
  get pending(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, firing every timer that falls due, in order, each at its own time. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: FakeTimer | undefined;
      for (const x of this.timers) if (x.due <= end && (next === undefined || x.due < next.due)) next = x;
      if (next === undefined) break;
      this.t = Math.max(this.t, next.due);
      if (next.every === undefined) this.timers.delete(next);
      else next.due += next.every;
      next.fn();
    }
    this.t = end;
  }

  private add(fn: () => void, ms: number, every: number | undefined): FakeTimer {
    const t: FakeTimer = { due: this.t + Math.max(0, ms), every, fn, cancelled: false, unref: () => t };
    this.timers.add(t);
    return t;
  }
}
