// `cloudtable status`: the tables as the admin and reader functions see
// them, then the running proxies, by their metrics endpoints.

import type { TableStatus } from '../../common/contract/admin.js';
import { adminClientFor } from '../admin/client.js';
import { HttpUpstream } from '../upstream/client.js';
import { RequestSigner } from '../http/signer.js';
import { adminCommandConfig, type AdminFlags } from './admin-config.js';
import { reportFailure } from './exit-codes.js';
import { proxyEndpoints, proxyStatus } from './proxy-status.js';

export interface StatusFlags extends AdminFlags {
  /** Running proxies to report on, by their metrics endpoints (--proxy, or its old name --metrics). */
  proxy?: string[];
}

/**
 * `cloudtable status`: every table as the admin function sees it
 * (generation, epoch, entries, kept previous generation, transaction in
 * progress) and what the reader function answers for it, so a reader that
 * lags or fails shows up next to the truth; then each running proxy whose
 * metrics endpoint is known (its upstream, circuit, cache figures, and the
 * generation it serves of each table against the active one).
 */
export async function statusCommand(flags: StatusFlags): Promise<void> {
  const config = adminCommandConfig(flags);
  // Checked before anything is asked: a bad --proxy is a mistake on the command line.
  const endpoints = proxyEndpoints(flags.proxy, config);
  const admin = adminClientFor(config.admin);
  const reader = new HttpUpstream(config.upstream, new RequestSigner(config.upstream.region));
  const active = new Map<string, number>();
  try {
    const s = await admin.status();
    const out: string[] = [`admin ${config.admin.url}, reader ${config.upstream.url}: ${s.tables.length} tables, ${s.garbage} old generations waiting to be deleted`];
    for (const t of s.tables) {
      if (t.generation !== undefined) active.set(t.table, t.generation);
      out.push(`  ${describe(t, s.time ?? Date.now())}; ${await readerView(reader, t.table, config.upstream.deadlineMs)}`);
    }
    process.stdout.write(`${out.join('\n')}\n`);
  } catch (err) {
    reportFailure('status', err);
  } finally {
    await Promise.all([admin.close(), reader.close()]);
  }
  const proxies = await proxyStatus(endpoints, active, config.upstream.deadlineMs);
  if (proxies.lines.length > 0) process.stdout.write(`${proxies.lines.join('\n')}\n`);
  if (!proxies.ok) process.exitCode ||= 69; // EX_UNAVAILABLE
}

function describe(t: TableStatus, now: number): string {
  const parts = [
    t.generation === undefined ? `${t.table}: no active generation` : `${t.table}: generation ${t.generation} (epoch ${t.epoch})`,
    `service ${t.service ?? '?'}`,
    `${t.count ?? '?'} entries`,
  ];
  if (t.updated) parts.push(`updated ${t.updated}${t.updatedBy ? ` by ${t.updatedBy}` : ''}`);
  if (t.previous) parts.push(`previous generation ${t.previous.generation} kept for ${Math.round((t.previous.until - now) / 60_000)} min`);
  const x = t.transaction;
  if (x) {
    const lease = x.expired
      ? `lease ran out ${Math.round((now - x.leaseUntil) / 1000)} s ago (${x.state === 'applied' ? 'rolled back' : 'discarded'} for readers; settled at the next write)`
      : `lease ${Math.ceil((x.leaseUntil - now) / 1000)} s left (until ${new Date(x.leaseUntil).toISOString()})`;
    parts.push(`transaction ${x.state} by ${x.owner}${x.principal ? ` (${x.principal})` : ''}, ${x.sent} entries sent, ${x.errors} refused, ${lease}`);
  }
  return parts.join(', ');
}

async function readerView(reader: HttpUpstream, table: string, timeoutMs: number): Promise<string> {
  try {
    const r = await reader.lookup(table, [], timeoutMs);
    return `reader answers generation ${r.generation}${r.epoch !== undefined ? ` (epoch ${r.epoch})` : ''}`;
  } catch (err) {
    return `reader: ${err instanceof Error ? err.message : String(err)}`;
  }
}
