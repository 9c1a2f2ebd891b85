// Tests that hold thousands of sockets raise this process's open-file limit
// first (up to the hard limit, with prlimit), or say plainly why they cannot.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * Thousands of connections need more than the usual 1,024 open files, in
 * this process (the clients) and in a server it starts, which inherits the
 * limit: the soft limit is raised up to the hard one with prlimit(1).
 */
export function raiseOpenFileLimit(want: number): void {
  const line = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  const soft = line?.[1] === 'unlimited' ? Infinity : Number(line?.[1]);
  const hard = line?.[2] === 'unlimited' ? Infinity : Number(line?.[2]);
  if (soft >= want) return;
  if (hard < want) throw new Error(`this test needs ${want} open files; the hard limit is ${hard}: raise it (ulimit -Hn) to run it`);
  execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${want}:${hard === Infinity ? 'unlimited' : hard}`]);
}
