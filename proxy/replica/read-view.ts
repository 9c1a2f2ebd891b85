// The hit path's view of the replica store: one LMDB read snapshot held
// across event-loop turns, and what each table serves in it (the pointer,
// read once per snapshot). A hit is then one synchronous read of the entry,
// from the same snapshot as the pointer that chose its slot, so it comes
// from one complete generation. The snapshot is renewed once it is
// `renewMs` old (a switch by another process is seen within that), at once
// after a switch this process made, and let go by the upkeep timer when no
// lookup came (a held snapshot keeps LMDB from reusing the pages it sees),
// and renewed when this process opened a table's databases after it began
// (an LMDB transaction cannot read a database opened after its start).

import type { Database } from 'lmdb';
import type { Answer } from '../resolver/answer.js';
import type { HotEntries } from './hot-entries.js';
import type { ReadAt, ReplicaStore, Slot } from './store.js';

/** How long a snapshot serves before the next lookup takes a newer one. */
export const RENEW_MS = 20;

/** The answers a replica gives: shared between requests (and held by HotEntries), so never modified. */
export type ReplicaAnswer = Readonly<Extract<Answer, { kind: 'found' | 'not-found' }>>;

/** What one table serves in the held snapshot, until `until` (ms). */
export type Served =
  | { kind: 'replica'; slot: Slot; generation: number; entries: Database<string, string>; hot: HotEntries<ReplicaAnswer>; at: ReadAt; until: number }
  | { kind: 'expired'; until: number }
  | { kind: 'none'; until: number };

export class ReadView {
  private held: ReadAt | undefined;
  private renewAt = 0;
  /** The store's count of opened tables when the snapshot was taken. */
  private openedAt = 0;
  /** Valid for the held snapshot only: emptied whenever it changes. */
  readonly served = new Map<string, Served>();

  constructor(
    private readonly store: ReplicaStore,
    private readonly renewMs = RENEW_MS,
  ) {}

  /** The snapshot to read from at `now`, and until when it serves. */
  current(now: number): { at: ReadAt; until: number } {
    if (this.held === undefined || now >= this.renewAt || this.openedAt !== this.store.opened) {
      this.release();
      this.held = { transaction: this.store.snapshot() };
      this.renewAt = now + this.renewMs;
      this.openedAt = this.store.opened;
    }
    return { at: this.held, until: this.renewAt };
  }

  /** Lets go of the snapshot: the next lookup takes the newest state. */
  release(): void {
    this.served.clear();
    this.held?.transaction.done();
    this.held = undefined;
  }

  /** Lets go of a snapshot no lookup renewed in time, so an idle process pins no old pages. */
  releaseIfIdle(now: number): void {
    if (this.held !== undefined && now >= this.renewAt) this.release();
  }
}
