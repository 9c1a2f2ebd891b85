// The item layout of the single DynamoDB table behind every cloudtable table.
//
//   META item   pk = "t#<table>"         sk = "meta"   gen (N, active generation), ...
//   entry item  pk = "e#<table>#<gen>"   sk = <key>    v (S, value)
//
// A generation is a complete, immutable copy of a table. Readers first read the
// META item (strongly consistent) and then read every key from that one
// generation, so no lookup ever sees a mixture of two generations. Replacing a
// table writes a new generation beside the active one and swaps META with a
// conditional write; the old generation is deleted later.

export const PK = 'pk';
export const SK = 'sk';
export const META_SK = 'meta';

export function metaPk(table: string): string {
  return `t#${table}`;
}

export function entryPk(table: string, generation: number): string {
  return `e#${table}#${generation}`;
}
