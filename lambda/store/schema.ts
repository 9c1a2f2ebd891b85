// The item layout of the single DynamoDB table behind every cloudtable table.
// docs/store.md explains the model; this file is its one definition in code.
//
//   META     pk = "t#<table>"          sk = "meta"      the active generation, epoch, kept previous
//                                                      generation and the transaction in progress
//   errors   pk = "t#<table>"          sk = "errors#<txn>"  first validation errors of a transaction
//   entry    pk = "e#<table>#<gen>"    sk = <key>       v (S, value)
//   pattern  pk = "p#<table>#<gen>"    sk = <key>       v (S, value): the entry again, when its key
//                                                      is a pattern (see below)
//   changes  pk = "c#<table>#<gen>"    sk = <key>       v (S, the value in <gen>; absent: removed),
//                                                      o (S, the value before; absent: added)
//   marker   pk = "t#<table>"          sk = "changes#<gen>"  from (N): the change log of <gen> is
//                                                      complete and leads from generation <from>
//   index    pk = "tables"             sk = <table>     one per table, so tables can be listed
//   garbage  pk = "gc"                 sk = "<due>#<gen>#<table>"   a generation to delete once due
//
// A generation is a complete, immutable copy of a table, and its number is
// never reused. Readers read the META item (strongly consistent) and then
// every key from the one generation it names, so no lookup ever sees a
// mixture of two generations. Replacing a table writes a shadow generation
// beside the active one and swaps META with one conditional write; old
// generations are deleted after a grace period longer than any lookup.
//
// Pattern items repeat, in a partition of their own, the entries of a
// generation whose key is a pattern (isPatternKey in common/smtpd: a `*`
// glob, a network prefix or a non-canonical address). Store.writeEntries
// writes them with the entries and Store.deleteGeneration deletes them with
// them, so one Query returns a generation's whole pattern set in key order,
// however large the table, for the proxy to match locally.

export const PK = 'pk';
export const SK = 'sk';
export const META_SK = 'meta';
export const INDEX_PK = 'tables';
export const GC_PK = 'gc';

export function metaPk(table: string): string {
  return `t#${table}`;
}

export function errorsSk(txn: string): string {
  return `errors#${txn}`;
}

export function entryPk(table: string, generation: number): string {
  return `e#${table}#${generation}`;
}

/** The change log of a generation: what its transaction changed relative to the generation it replaced. */
export function changesPk(table: string, generation: number): string {
  return `c#${table}#${generation}`;
}

export function changesSk(generation: number): string {
  return `changes#${generation}`;
}

export function patternPk(table: string, generation: number): string {
  return `p#${table}#${generation}`;
}

/** Garbage sort keys order by due time (ms, zero-padded), so one query finds what is due. */
export function garbageSk(dueMs: number, table: string, generation: number): string {
  return `${garbageDuePrefix(dueMs)}#${generation}#${table}`;
}

export function garbageDuePrefix(dueMs: number): string {
  return String(Math.max(0, Math.floor(dueMs))).padStart(15, '0');
}

export function parseGarbageSk(sk: string): { dueMs: number; table: string; generation: number } | undefined {
  const m = /^(\d{15})#(\d+)#(.+)$/.exec(sk);
  if (!m) return undefined;
  return { dueMs: Number(m[1]), generation: Number(m[2]), table: m[3]! };
}

/** META attribute names. Transaction fields are flat so conditions can name them directly. */
export const M = {
  gen: 'gen',
  epoch: 'epoch',
  last: 'last',
  service: 'service',
  count: 'count',
  /** The active generation's digest (common/contract/digest.ts), recorded at validation. */
  digest: 'digest',
  updated: 'updated',
  /** Who applied the active generation (the signing IAM principal, else the client's owner string). */
  updatedBy: 'updatedBy',
  prev: 'prev',
  prevCount: 'prevCount',
  prevUntil: 'prevUntil',
  prevService: 'prevService',
  prevDigest: 'prevDigest',
  txn: 'txn',
  txnState: 'txnState',
  txnShadow: 'txnShadow',
  txnBase: 'txnBase',
  txnBaseCount: 'txnBaseCount',
  txnBaseService: 'txnBaseService',
  txnBaseDigest: 'txnBaseDigest',
  txnEpoch: 'txnEpoch',
  txnLease: 'txnLease',
  txnOwner: 'txnOwner',
  txnPrincipal: 'txnPrincipal',
  txnStarted: 'txnStarted',
  txnService: 'txnService',
  txnSent: 'txnSent',
  txnErrors: 'txnErrors',
  txnCount: 'txnCount',
  txnDigest: 'txnDigest',
  txnAdded: 'txnAdded',
  txnRemoved: 'txnRemoved',
  txnChanged: 'txnChanged',
} as const;

/** The transaction attributes, removed together when a transaction ends. */
export const TXN_ATTRIBUTES = Object.values(M).filter((a) => a.startsWith('txn'));
