// The callers waiting for the function, in deadline order behind one timer
// of the resolver's clock.

import type { Clock, Timer } from '../clock.js';

/** An entry of a deadline list (the list links it). */
export interface Timed {
  /** The list's clock.monotonic() by which it is expired if still listed. */
  deadline: number;
  prev: Timed | undefined;
  next: Timed | undefined;
}

/**
 * Entries in deadline order behind one timer. Every deadline is the same
 * length from its start, so deadline order is arrival order: entries are
 * added at the tail, unlinked in O(1) when settled, and expired from the
 * head. Ten thousand callers waiting cost ten thousand small objects, not
 * ten thousand timers.
 */
export class DeadlineList<T extends Timed> {
  private head: T | undefined;
  private tail: T | undefined;
  private timer: Timer | undefined;
  private armedFor = Infinity;

  constructor(
    private readonly clock: Clock,
    private readonly expire: (item: T) => void,
  ) {}

  add(item: T): void {
    item.prev = this.tail;
    item.next = undefined;
    if (this.tail) this.tail.next = item;
    else this.head = item;
    this.tail = item;
    if (item === this.head) this.arm();
  }

  /** Unlinks an entry settled before its deadline. */
  remove(item: T): void {
    if (item.prev) item.prev.next = item.next;
    else if (this.head === item) this.head = item.next as T | undefined;
    else return; // not listed
    if (item.next) item.next.prev = item.prev;
    else this.tail = item.prev as T | undefined;
    item.prev = item.next = undefined;
  }

  close(): void {
    this.clock.clear(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    const head = this.head;
    if (!head || head.deadline >= this.armedFor) return;
    this.clock.clear(this.timer);
    this.armedFor = head.deadline;
    this.timer = this.clock.setTimeout(() => this.fire(), Math.max(0, Math.ceil(head.deadline - this.clock.monotonic())));
  }

  private fire(): void {
    this.timer = undefined;
    this.armedFor = Infinity;
    // Timers run on the event loop's millisecond clock: within a millisecond is due.
    const now = this.clock.monotonic() + 1;
    while (this.head && this.head.deadline <= now) {
      const item = this.head;
      this.remove(item);
      this.expire(item);
    }
    this.arm();
  }
}
