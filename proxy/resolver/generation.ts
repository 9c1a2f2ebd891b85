// Generation tracking of one table: the newest generation the proxy knows
// of, and the one rule every source of answers asks before serving
// (cache hits, stale answers, fallbacks while the function fails, the
// function's own answers, pattern sets, fetch rotation, health, auth):
//
//   an answer is served only from the newest generation the proxy knows of.
//
// "Stale" is about time (an answer past its TTL, served while the function
// fails), never about generation: an answer of a generation the proxy has
// moved away from (replaced, or applied and then rolled back) is never
// served again, however recent it is.
//
// Newest is decided by epoch, which the function raises on every change of
// the active generation (a rollback reactivates an older generation number
// under a higher epoch); where the function sends no epoch (versions before
// epochs), by the order the requests were sent in. Generation numbers are
// never reused (a shadow is always `last + 1`), so "the same number" is "the
// same entries". An answer that arrives late from an older state (a lagging
// request, another region behind this one) never moves a table back.

/** How an observed (generation, epoch) relates to what was known. */
export type Observation = 'newer' | 'confirmed' | 'older';

export class TableGeneration {
  /** The epoch it was answered with; undefined from a function that predates epochs. */
  private epoch: number | undefined;
  /** Order of the request that last confirmed it (see Batcher.nextSeq). */
  private seq: number;
  /** When (ms, the resolver's clock) the last request that confirmed it was sent. */
  confirmedAt: number;

  constructor(
    /** The newest generation known: the only one answers are served from. */
    public generation: number,
    epoch: number | undefined,
    seq: number,
    sentAt: number,
  ) {
    this.epoch = epoch;
    this.seq = seq;
    this.confirmedAt = sentAt;
  }

  /**
   * The rule: whether an answer of `generation` may be served. Every source
   * of answers asks this, on the hit path too (one comparison).
   */
  serves(generation: number): boolean {
    return generation === this.generation;
  }

  /**
   * Takes a (generation, epoch) read by a request sent at `sentAt` as the
   * `seq`-th: adopted when newer, a confirmation when the same, ignored when
   * older.
   */
  observe(generation: number, epoch: number | undefined, seq: number, sentAt: number): Observation {
    const newer = epoch !== undefined && this.epoch !== undefined ? epoch > this.epoch : seq > this.seq && (epoch !== this.epoch || generation !== this.generation);
    if (newer) {
      this.generation = generation;
      this.epoch = epoch;
      this.seq = seq;
      this.confirmedAt = sentAt;
      return 'newer';
    }
    if (generation === this.generation && epoch === this.epoch) {
      this.confirmedAt = Math.max(this.confirmedAt, sentAt);
      this.seq = Math.max(this.seq, seq);
      return 'confirmed';
    }
    return 'older';
  }
}
