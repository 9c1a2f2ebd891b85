// The table file formats `load` reads and `show` writes, named apart from
// their readers so the CLI can list them without loading the loader.

export const TABLE_FORMATS = ['smtpd', 'postmap', 'jsonl'] as const;
export type TableFormat = (typeof TABLE_FORMATS)[number];
