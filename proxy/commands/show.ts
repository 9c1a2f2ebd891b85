// `cloudtable show TABLE`: one generation of a table, printed in a form
// `cloudtable load` reads back exactly.

import type { ListResponse } from '../../common/contract/admin.js';
import { adminClientFor, type AdminClient } from '../admin/client.js';
import { carries, line, preamble, type Entry } from '../load/table-output.js';
import type { TableFormat } from '../load/table-file.js';
import { adminCommandConfig, type AdminFlags } from './admin-config.js';
import { CommandError, EX, reportFailure } from './exit-codes.js';

export interface ShowFlags extends AdminFlags {
  /** `auto` (the default): smtpd's table(5) form if it carries every entry exactly, else JSON Lines. */
  format?: TableFormat | 'auto';
}

/** Entries held while deciding the format; a larger table is read twice (a check pass, then the output). */
const DECIDE_IN_MEMORY = 10_000;

/**
 * `cloudtable show TABLE`: the active generation's entries on stdout, after
 * a `#` comment line that says which generation, in a form `cloudtable
 * load` reads back to the identical table: smtpd's table(5) form when it
 * can carry every key and value, else JSON Lines (or the --format asked
 * for, refused if it cannot carry them). Every page comes from the
 * generation of the first one, however often the table is swapped
 * meanwhile; if that generation stops being kept before the end, the
 * command fails (exit 75) rather than print a mixture. A reader that stops
 * reading (`| head`) ends it quietly.
 */
export async function showCommand(table: string, flags: ShowFlags): Promise<void> {
  const admin = adminClientFor(adminCommandConfig(flags).admin);
  const out = new Output(process.stdout);
  try {
    const listing = new PinnedListing(admin, table);
    const first = await listing.next(undefined);
    const wanted = flags.format ?? 'auto';
    let format: TableFormat = wanted === 'auto' ? 'smtpd' : wanted;
    // Held pages, and the cursor after them when the table is larger.
    const held: ListResponse[] = [first];
    let rest = first.cursor;
    if (format !== 'jsonl') {
      let count = first.entries.length;
      while (rest !== undefined && count < DECIDE_IN_MEMORY) {
        const page = await listing.next(rest);
        held.push(page);
        count += page.entries.length;
        rest = page.cursor;
      }
      const misfit = await firstMisfit(held, listing, rest, (e) => carries(format, first.service, e));
      if (misfit !== undefined) {
        if (wanted !== 'auto') throw new CommandError(EX.DATAERR, `the ${format} format cannot carry the entry ${JSON.stringify(misfit.key)} so that it loads back the same: use --format jsonl`);
        format = 'jsonl';
      }
    }
    await out.write(header(table, first, format) + preamble(format, first.service));
    for (const page of held) await out.write(page.entries.map((e) => line(format, first.service, e)).join(''));
    while (rest !== undefined && !out.closed) {
      const page = await listing.next(rest);
      await out.write(page.entries.map((e) => line(format, first.service, e)).join(''));
      rest = page.cursor;
    }
  } catch (err) {
    if (!out.closed) reportFailure('show', err);
  } finally {
    await admin.close();
  }
}

function header(table: string, first: ListResponse, format: TableFormat): string {
  const t = first.transaction;
  const txn = t ? `; transaction ${t.state}${t.expired ? ' (lease ran out)' : ''} by ${t.owner}` : '';
  const how = format === 'smtpd' ? '' : `, ${format} format`;
  return first.generation === undefined
    ? `# table ${table}: no active generation yet${txn}\n`
    : `# table ${table}: generation ${first.generation} (epoch ${first.epoch}), service ${first.service ?? '?'}, ${first.count ?? '?'} entries${how}${txn}\n`;
}

/** The first entry `fits` refuses: in the held pages, then (a check pass) in the pages after `rest`. */
async function firstMisfit(held: ListResponse[], listing: PinnedListing, rest: string | undefined, fits: (e: Entry) => boolean): Promise<Entry | undefined> {
  for (const page of held) {
    const bad = page.entries.find((e) => !fits(e));
    if (bad) return bad;
  }
  for (let cursor = rest; cursor !== undefined; ) {
    const page = await listing.next(cursor);
    const bad = page.entries.find((e) => !fits(e));
    if (bad) return bad;
    cursor = page.cursor;
  }
  return undefined;
}

/** Pages of one generation: the first page's, asked for by number on every later page. */
class PinnedListing {
  private pinned: number | undefined;

  constructor(
    private readonly admin: AdminClient,
    private readonly table: string,
  ) {}

  async next(cursor: string | undefined): Promise<ListResponse> {
    const page = await this.admin.list({ table: this.table, ...(cursor !== undefined && { cursor }), ...(this.pinned !== undefined && { generation: this.pinned }) });
    // A function older than `listed` answers from the active generation, whatever was asked.
    const listed = page.listed ?? page.generation;
    if (this.pinned === undefined) this.pinned = listed;
    else if (listed !== this.pinned) {
      throw new CommandError(EX.TEMPFAIL, `table ${this.table} changed from generation ${this.pinned} to ${String(listed)} during the listing: the output is incomplete; run again`);
    }
    return page;
  }
}

/** stdout with back-pressure, that notices a reader gone away (EPIPE) instead of crashing on it. */
class Output {
  closed = false;

  constructor(private readonly stream: NodeJS.WriteStream) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
      this.closed = true;
    });
  }

  async write(text: string): Promise<void> {
    if (this.closed || text === '' || this.stream.write(text)) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        this.stream.off('drain', done);
        this.stream.off('error', done);
        resolve();
      };
      this.stream.once('drain', done);
      this.stream.once('error', done);
    });
  }
}
