// The replicas of one process, opened when there is something to answer or
// transfer, and never before the front end is up (smtpd's handshake
// answered, sockmap listening): lmdb and msgpackr cost about 40 ms and
// 3.5 MiB, smtpd sends no SMTP banner until every table process has finished
// its handshake, and it starts one process per `table` line, most of them
// asked little or nothing. Tables named for replication (replica.tables as
// a list, [tables.NAME] replica) open the store as soon as the front end is
// up, so their first transfer happens before it is needed; with `auto`, the
// default, the first request of a table that may be replicated opens it,
// also when the host already has a store: an idle process then costs what
// it costs on a host without replicas. The host's replicas are kept current
// meanwhile by every process that has opened the store (each checks all the
// tables the store holds, replicas.ts), and a process that opens it late
// reads what they kept.
//
// While the store is being opened, requests of a table it may answer wait
// for it (tens of milliseconds, once) rather than go to the function: a
// process started during an outage answers from the replica from its first
// request. Once open, every call goes straight to replicas.ts.

import { existsSync } from 'node:fs';
import type { Service } from '../../common/contract/lookup.js';
import type { Config, ReplicaTables } from '../config.js';
import type { Answer } from '../resolver/answer.js';
import type { EntrySet } from '../tables/entry-sets.js';
import type { TableService } from '../tables/table-service.js';
import type { Listing } from '../upstream/client.js';
import type { Replicas, ReplicaStatus } from './replicas.js';
import { replicationWanted, storePath } from './settings.js';

/** Opens the store; undefined when it cannot be opened (logged there: the cache path serves every table). */
export type OpenReplicas = () => Promise<Replicas | undefined>;

export class DeferredReplicas {
  private open_: Replicas | undefined;
  private opening: Promise<void> | undefined;
  /** Pending while a store that existed when opening began is being opened: requests wait for it. */
  private waiting: Promise<void> | undefined;
  /** Tables asked before the store was open: checked (and transferred) once it is. */
  private readonly asked = new Set<string>();
  private closed = false;

  constructor(
    private readonly config: Config,
    private readonly settings: { dir: string; tables: ReplicaTables },
    private readonly openStore: OpenReplicas,
  ) {}

  /** The replicas, once open. */
  get replicas(): Replicas | undefined {
    return this.open_;
  }

  /** The front end is up: opens the store now if tables are named for replication (else at the first request that may use it). */
  frontEndUp(): void {
    const named = Array.isArray(this.settings.tables) || Object.values(this.config.tables).some((t) => t.replica === true);
    if (named) void this.begin();
  }

  /**
   * Before a request of `table`: undefined when it may go ahead now (the
   * hit path pays one property read), else what to wait for first.
   */
  before(table: string): Promise<void> | undefined {
    if (this.open_ !== undefined || this.closed) return undefined;
    if (this.opening === undefined) {
      if (!replicationWanted(this.config, this.settings.tables, table)) return undefined;
      this.asked.add(table);
      void this.begin();
    } else this.asked.add(table);
    return this.waiting;
  }

  answer(table: string, service: Service, key: string): Answer | undefined {
    return this.open_?.answer(table, service, key);
  }

  serving(table: string): boolean {
    return this.open_?.serving(table) ?? false;
  }

  set(table: string, what: Listing): EntrySet | undefined {
    return this.open_?.set(table, what);
  }

  /** smtpd `update`: the replica checked now (the store opened first if the table may be replicated). */
  async update(table: string): Promise<void> {
    await this.before(table);
    if (this.opening !== undefined) await this.opening;
    await this.open_?.update(table);
  }

  status(): ReplicaStatus[] {
    return this.open_?.status() ?? [];
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.opening;
    await this.open_?.close();
  }

  private begin(): Promise<void> {
    if (this.opening !== undefined) return this.opening;
    const existed = existsSync(storePath(this.settings.dir));
    // openStore logs its own failures; a store that could not be opened leaves every table to the cache path.
    const opened = this.openStore().catch(() => undefined);
    this.opening = opened.then(async (r) => {
      this.waiting = undefined;
      if (this.closed) return r?.close();
      this.open_ = r;
      for (const t of this.asked) r?.asked(t);
      this.asked.clear();
    });
    if (existed) this.waiting = this.opening;
    return this.opening;
  }
}

/** `tables`, whose requests wait while `replicas` opens a store that may answer them. */
export function waitingForReplicas(tables: TableService, replicas: DeferredReplicas): TableService {
  return {
    lookup: (table, service, key) => {
      const w = replicas.before(table);
      return w === undefined ? tables.lookup(table, service, key) : w.then(() => tables.lookup(table, service, key));
    },
    check: (table, service, key) => {
      const w = replicas.before(table);
      return w === undefined ? tables.check(table, service, key) : w.then(() => tables.check(table, service, key));
    },
    fetch: async (table, service) => {
      await replicas.before(table);
      return tables.fetch(table, service);
    },
    update: (table) => tables.update(table),
  };
}
