// The real Postfix client: `postmap -q` against a socketmap server. postmap
// needs a main.cf; an empty one in a scratch directory is enough.

import { execFile } from 'node:child_process';
import { accessSync, constants, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export const POSTMAP_MISSING = 'postmap not found: install the Debian package "postfix" (.ci/run does: apt-get install --no-install-recommends postfix)';

/** postmap on PATH or in /usr/sbin (not on every user's PATH), or undefined. */
export function findPostmap(): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin']) {
    if (!dir) continue;
    const p = join(dir, 'postmap');
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface PostmapResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class Postmap {
  private readonly configDir: string;

  constructor(private readonly binary: string) {
    this.configDir = mkdtempSync(join(tmpdir(), 'cloudtable-postfix-'));
    writeFileSync(join(this.configDir, 'main.cf'), '');
  }

  /** `postmap -q KEY socketmap:ENDPOINT:MAP`, ENDPOINT being `inet:HOST:PORT` or `unix:PATH`. */
  query(key: string, endpoint: string, map: string): Promise<PostmapResult> {
    return new Promise((resolve) => {
      execFile(
        this.binary,
        ['-c', this.configDir, '-q', key, `socketmap:${endpoint}:${map}`],
        { encoding: 'utf8', maxBuffer: 4 * 1024 * 1024, timeout: 30_000 },
        (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
      );
    });
  }
}
