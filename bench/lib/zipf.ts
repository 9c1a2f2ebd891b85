// Keys as mail traffic asks them: ranks drawn from a Zipf distribution (a
// few keys asked very often, a long tail asked rarely), with a set share of
// lookups that the proxy's cache cannot answer, so that a workload runs at
// the cache hit rate it states.

/** A small seeded PRNG (mulberry32), so that runs draw the same keys. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Ranks 0…n-1 with P(rank k) ∝ 1 / (k + 1)^s. */
export class Zipf {
  private readonly cdf: Float64Array;

  constructor(
    readonly n: number,
    s: number,
    private readonly random: () => number,
  ) {
    this.cdf = new Float64Array(n);
    let sum = 0;
    for (let k = 0; k < n; k++) this.cdf[k] = sum += 1 / Math.pow(k + 1, s);
    for (let k = 0; k < n; k++) this.cdf[k]! /= sum;
  }

  next(): number {
    const u = this.random();
    let lo = 0;
    let hi = this.n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/**
 * The keys one front end asks of one table. Each lookup draws a Zipf rank;
 * it is a miss when the proxy holds no fresh answer for that key (never
 * asked, or its answer expired as the cache's TTLs say). Draws are
 * conditioned so that misses stay at `missShare` of the lookups: the
 * stated hit rate, whatever the run's length.
 */
export class KeyStream {
  private readonly zipf: Zipf;
  /** Until when (ms) the proxy holds a fresh answer for each rank. */
  private readonly freshUntil: Float64Array;
  private lookups = 0;
  private misses = 0;
  private nextUnasked = 0;

  constructor(
    private readonly keys: readonly string[],
    private readonly missShare: number,
    private readonly ttl: { foundMs: number; notFoundMs: number },
    random: () => number,
    s = 1,
  ) {
    this.zipf = new Zipf(keys.length, s, random);
    this.freshUntil = new Float64Array(keys.length);
  }

  /** The next key to ask, and whether the proxy should have its answer. */
  next(now: number): { rank: number; key: string; cached: boolean } {
    this.lookups++;
    const wantMiss = this.misses < this.missShare * this.lookups;
    let rank = -1;
    for (let i = 0; i < 256 && rank < 0; i++) {
      const r = this.zipf.next();
      if (this.freshUntil[r]! <= now === wantMiss) rank = r;
    }
    if (rank < 0) rank = wantMiss ? this.firstUncached(now) : this.zipf.next();
    const cached = this.freshUntil[rank]! > now;
    if (!cached) this.misses++;
    return { rank, key: this.keys[rank]!, cached };
  }

  /** What the proxy was answered for a key it asked the function: how long it will hold it. */
  answered(rank: number, found: boolean, now: number): void {
    if (this.freshUntil[rank]! <= now) this.freshUntil[rank] = now + (found ? this.ttl.foundMs : this.ttl.notFoundMs);
  }

  /** The table was replaced: every answer the proxy holds is of the old generation. */
  forget(): void {
    this.freshUntil.fill(0);
  }

  private firstUncached(now: number): number {
    for (let i = 0; i < this.keys.length; i++) {
      const r = (this.nextUnasked + i) % this.keys.length;
      if (this.freshUntil[r]! <= now) {
        this.nextUnasked = r + 1;
        return r;
      }
    }
    return this.zipf.next();
  }
}
