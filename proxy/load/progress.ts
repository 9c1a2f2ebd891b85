// The progress bar of `cloudtable load`, on stderr (stdout carries the
// summary). Drawn only on a terminal: piped into a log, a bar is noise.

import { SingleBar } from 'cli-progress';

export interface Progress {
  /** Bytes of the file read so far, entries sent so far. */
  update(bytes: number, entries: number): void;
  stop(): void;
}

export function createProgress(stream: NodeJS.WriteStream, totalBytes: number, label: string): Progress {
  if (!stream.isTTY || totalBytes === 0) return { update: () => {}, stop: () => {} };
  const bar = new SingleBar({
    stream,
    format: `${label} [{bar}] {percentage}% | {entries} entries | ETA {eta_formatted}`,
    hideCursor: true,
    clearOnComplete: true,
    etaBuffer: 50,
  });
  bar.start(totalBytes, 0, { entries: 0 });
  return {
    update: (bytes, entries) => bar.update(bytes, { entries }),
    stop: () => bar.stop(),
  };
}
