// A child process's memory, as the kernel counts it (Linux /proc).

import { readFileSync } from 'node:fs';

export interface Memory {
  /** Resident now. */
  rss: number;
  /** The most it has been resident since it started (VmHWM). */
  peak: number;
}

export function memoryOf(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

export const MiB = 2 ** 20;
