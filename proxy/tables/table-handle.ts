// The handle of one open table, in the spirit of OpenSMTPD's `struct table`
// and Postfix's DICT: everything the proxy holds about one table name, in
// one object, instead of maps keyed by the name in every module: its
// generation tracking (resolver/generation.ts), its entry sets (pattern
// entries, all entries) and their loads, the position of its `fetch`
// rotation per service, and whether a background generation check is under
// way. The answer cache stays one LRU for the process, so that its bounds
// are global.
//
// A handle is opened when the function first answers for the table (a
// lookup, a listing, a generation check), never for a name a client merely
// asks: names asked of a socketmap server are the client's choice, and must
// not grow the proxy's memory.
//
// Seams for what is built on it: a local replica (issue 14) is a property of
// the handle that answers synchronously, generation-tagged, asked by the
// resolver's hit path before the cache, under the same `serves()` rule;
// several regions (issue 15) feed their answers into the handle's one
// `generation.observe()`, whose epoch order keeps a lagging region from
// moving the table back.

import type { Service } from '../../common/contract/lookup.js';
import { TableGeneration } from '../resolver/generation.js';
import type { Listing } from '../upstream/client.js';
import type { EntrySet } from './entry-sets.js';

export class TableHandle {
  /** Sets fetched per kind of listing, each of one generation. */
  readonly sets = new Map<Listing, EntrySet>();
  /** The last key `fetch` answered, per rotating service. */
  readonly rotation = new Map<Service, string>();
  /** A background generation check is under way. */
  checking = false;
  /** The table's last lookup (ms, the resolver's clock): only tables in use are checked in the background. */
  usedAt: number;

  constructor(
    readonly name: string,
    /** The newest generation known: the rule every answer is held to. */
    readonly generation: TableGeneration,
  ) {
    this.usedAt = generation.confirmedAt;
  }

  /** The rule of resolver/generation.ts for this table. */
  serves(generation: number): boolean {
    return this.generation.serves(generation);
  }
}

/** The open tables of one process, by name. */
export class TableHandles {
  private readonly handles = new Map<string, TableHandle>();

  /** The handle, if the function has answered for the table. */
  get(name: string): TableHandle | undefined {
    return this.handles.get(name);
  }

  /** Opens a table: called with the (generation, epoch) of the function's first answer for it. */
  open(name: string, generation: TableGeneration): TableHandle {
    const h = new TableHandle(name, generation);
    this.handles.set(name, h);
    return h;
  }

  [Symbol.iterator](): IterableIterator<TableHandle> {
    return this.handles.values();
  }
}
