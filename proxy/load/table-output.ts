// Writes entries in the table file formats `cloudtable load` reads
// (table-file.ts), and says whether a format can carry an entry so that
// loading the output gives the identical entry back: the text formats end a
// key at a space (smtpd also at `:`), trim values, and fold keys to lower
// case when loaded; JSON Lines carries anything.

import { foldKey, isSpace } from '../../common/smtpd/text.js';
import { isListService } from './services.js';
import type { TableFormat } from './table-file.js';

export interface Entry {
  key: string;
  value: string;
}

function trimmed(s: string): boolean {
  return s !== '' && !isSpace(s[0]) && !isSpace(s[s.length - 1]);
}

/** Whether `format` writes `e` of a `service` table so that the default `cloudtable load` reads back exactly `e`. */
export function carries(format: TableFormat, service: string | undefined, e: Entry): boolean {
  if (format === 'jsonl') return true;
  const { key, value } = e;
  if (key.includes('\n') || value.includes('\n') || foldKey(key) !== key || !trimmed(key) || key.startsWith('#')) return false;
  if (format === 'smtpd' && isListService(service)) {
    // One key per line, the whole line: a list entry is its key.
    return value === key && (!key.startsWith('[') || key.includes(']'));
  }
  if (!trimmed(value)) return false;
  if (format === 'smtpd') return !/[ \t:]/.test(key) && !key.startsWith('[');
  return !/[\s"\\]/.test(key);
}

/** Lines that must come before the entries (a list needs `# @list` in smtpd's format). */
export function preamble(format: TableFormat, service: string | undefined): string {
  return format === 'smtpd' && isListService(service) ? '# @list\n' : '';
}

/** One entry as a line of `format`. */
export function line(format: TableFormat, service: string | undefined, e: Entry): string {
  if (format === 'jsonl') return `${JSON.stringify({ key: e.key, value: e.value })}\n`;
  if (format === 'smtpd' && isListService(service)) return `${e.key}\n`;
  return `${e.key} ${e.value}\n`;
}
